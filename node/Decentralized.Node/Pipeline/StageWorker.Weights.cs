using TorchSharp;
using static TorchSharp.torch;

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

    /// <summary>θ_r: the fast weights at the start of an outer exchange (remembered for <see cref="ApplyOuter"/>).</summary>
    public float[] BeginRound()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            _roundStart = _flat.Snapshot().data<float>().ToArray();
            return (float[])_roundStart.Clone();
        }
    }

    /// <summary>
    /// NoLoCo's step with the partners' fast weights (γ = β form: m ← α·m + β·(mean θ_j − φ); φ ← φ + m), then
    /// θ ← φ + (θ_now − θ_r): the steps taken while the exchange was in flight are kept (a one-round delayed
    /// correction, as in DiLoCoX), so the stage never waits on its partners.
    /// </summary>
    public void ApplyOuter(IReadOnlyList<float[]> partnerFast)
    {
        lock (_gate)
        {
            if (_disposed || _roundStart is null) return;
            using var scope = NewDisposeScope();
            var own = torch.tensor(_roundStart);
            var group = new List<Tensor> { own };
            foreach (var fast in partnerFast)
                if (fast.LongLength == _flat.Count) group.Add(torch.tensor(fast));
            var now = _flat.Snapshot();
            _outer.StepFromFast(group);
            _flat.Assign(_outer.Slow + (now - own));
            _roundStart = null;
        }
    }

    /// <summary>Values in the whole stage (the outer vector).</summary>
    public long FlatCount => _flat.Count;
}
