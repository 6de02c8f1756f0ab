namespace Decentralized.Node.Pipeline;

public sealed partial class StageWorker
{
    /// <summary>A copy of one weight part, or null if this stage does not hold it.</summary>
    public float[]? Export(WeightPart part)
    {
        lock (_gate)
        {
            if (_disposed) return null;
            return part switch
            {
                WeightPart.Blocks => _blocks.Export(),
                WeightPart.Embedding => IsFirst ? _embedding.Export() : null,
                WeightPart.Head => IsLast ? _head.Export() : null,
                WeightPart.EmbeddingBackup => (float[]?)_embeddingBackup?.Clone(),
                _ => (float[]?)_headBackup?.Clone(),
            };
        }
    }

    /// <summary>
    /// Overwrites one weight part: blocks and the owned embedding/head become the new weights (used while building a
    /// rebuilt stage, before the outer state is taken from them); backups are just stored.
    /// </summary>
    public void Import(WeightPart part, float[] values)
    {
        if (values.LongLength != PartValues(part))
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"{part} needs {PartValues(part)} values, got {values.LongLength}");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            switch (part)
            {
                case WeightPart.Blocks: _blocks.Import(values); break;
                case WeightPart.Embedding when IsFirst: _embedding.Import(values); break;
                case WeightPart.Head when IsLast: _head.Import(values); break;
                case WeightPart.EmbeddingBackup: _embeddingBackup = values; break;
                case WeightPart.HeadBackup: _headBackup = values; break;
                default: throw new InvalidOperationException($"stage {Stage} cannot hold {part}");
            }
        }
    }

    /// <summary>Whether this stage keeps a CheckFree+ copy of the embedding (stage 1) or of the head (stage S−2).</summary>
    public WeightPart? BackupDuty(int stageCount) =>
        Stage == 1 && !IsFirst ? WeightPart.EmbeddingBackup
        : Stage == stageCount - 2 && !IsLast ? WeightPart.HeadBackup
        : null;
}
