namespace Decentralized.Node.Data;

/// <summary>
/// The fixed validation set: rows of T+1 tokens cut without overlap from the validation chunks,
/// evenly spread over them when there are more than needed. Every evaluation (and every replica)
/// sees the same batches in the same order, so validation losses are comparable across time and
/// peers. When the split holds fewer rows than one batch, rows repeat to fill it.
/// </summary>
public sealed class ValidationBatches
{
    private readonly ReadOnlyMemory<ushort> _tokens;
    private readonly int[] _rowStarts;

    internal ValidationBatches(TokenDataset dataset, int batchSize, int sequenceLength, int maxBatches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatches, 1);
        _tokens = dataset.Tokens;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        var row = sequenceLength + 1;
        var available = new List<int>();
        foreach (var chunk in dataset.ValidationChunks)
        {
            var start = dataset.ChunkStart(chunk);
            for (var k = 0; k + row <= dataset.ChunkLength(chunk); k += row)
            {
                available.Add(start + k);
            }
        }

        if (available.Count == 0)
        {
            throw new DataException(
                $"the validation split ({dataset.ValidationChunks.Count} chunk(s)) has no run of {row} tokens; add text, use shorter sequences or a larger validation fraction");
        }

        BatchCount = Math.Clamp(available.Count / batchSize, 1, maxBatches);
        var rows = BatchCount * batchSize;
        _rowStarts = new int[rows];
        for (var j = 0; j < rows; j++)
        {
            var pick = rows <= available.Count ? (int)((long)j * available.Count / rows) : j % available.Count;
            _rowStarts[j] = available[pick];
        }

        DistinctRows = Math.Min(rows, available.Count);
    }

    /// <summary>Number of batches.</summary>
    public int BatchCount { get; }

    /// <summary>Rows per batch (B).</summary>
    public int BatchSize { get; }

    /// <summary>Inputs per row (T).</summary>
    public int SequenceLength { get; }

    /// <summary>Distinct rows among all batches (smaller than rows only for tiny validation splits).</summary>
    public int DistinctRows { get; }

    /// <summary>Elements a destination buffer needs: B x (T+1).</summary>
    public int BatchElements => BatchSize * (SequenceLength + 1);

    /// <summary>Target tokens scored by one full evaluation: batches x B x T.</summary>
    public long TargetTokens => (long)BatchCount * BatchSize * SequenceLength;

    /// <summary>Writes batch <paramref name="batchIndex"/>, (B, T+1) row-major, into <paramref name="destination"/>.</summary>
    public void Fill(int batchIndex, Span<long> destination)
    {
        var row = Check(batchIndex, destination.Length);
        for (var b = 0; b < BatchSize; b++)
        {
            var source = _tokens.Span.Slice(_rowStarts[(batchIndex * BatchSize) + b], row);
            var target = destination.Slice(b * row, row);
            for (var t = 0; t < row; t++)
            {
                target[t] = source[t];
            }
        }
    }

    /// <summary>Writes batch <paramref name="batchIndex"/>, (B, T+1) row-major, into <paramref name="destination"/>.</summary>
    public void Fill(int batchIndex, Span<int> destination)
    {
        var row = Check(batchIndex, destination.Length);
        for (var b = 0; b < BatchSize; b++)
        {
            var source = _tokens.Span.Slice(_rowStarts[(batchIndex * BatchSize) + b], row);
            var target = destination.Slice(b * row, row);
            for (var t = 0; t < row; t++)
            {
                target[t] = source[t];
            }
        }
    }

    private int Check(int batchIndex, int length)
    {
        if ((uint)batchIndex >= (uint)BatchCount)
        {
            throw new ArgumentOutOfRangeException(nameof(batchIndex), $"batch {batchIndex} is not in [0, {BatchCount})");
        }

        if (length != BatchElements)
        {
            throw new ArgumentException($"batch buffer has {length} elements; B x (T+1) = {BatchElements}");
        }

        return SequenceLength + 1;
    }
}
