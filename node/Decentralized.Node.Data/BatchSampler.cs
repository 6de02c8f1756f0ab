namespace Decentralized.Node.Data;

/// <summary>
/// Serves training batches from one replica's shard: B rows of T+1 consecutive tokens, written
/// into a caller buffer laid out (B, T+1) row-major. Row b's inputs are [b, 0..T) and its targets
/// [b, 1..T+1). A row never crosses a chunk edge, so no validation token leaks into training.
/// <para>
/// Each epoch cuts every chunk into windows of stride T starting at an epoch-dependent offset (so
/// epochs see different alignments) and visits them in a seeded random order, without
/// replacement. The order and offset are pure functions of (shard seed, replica, epoch), so the
/// whole state is (epoch, position): <see cref="GetState"/> / <see cref="Restore"/> resume exactly.
/// Batches allocate nothing; only the start of an epoch rebuilds the window order (4 bytes per window).
/// </para>
/// </summary>
public sealed class BatchSampler
{
    private const ulong SamplerDomain = 0x53414D504C45UL; // "SAMPLE"
    private readonly ReadOnlyMemory<ushort> _tokens;
    private readonly int[] _chunkStarts;
    private readonly int[] _chunkLengths;
    private readonly int[] _cumulative;
    private readonly int[] _chunkOffsets;
    private readonly ulong _stream;
    private int[] _order = [];
    private long _epoch = -1;
    private long _position;

    /// <summary>Creates a sampler positioned at the start of epoch 0.</summary>
    /// <exception cref="DataException">No chunk of the shard holds a full row of T+1 tokens.</exception>
    public BatchSampler(ReplicaShard shard, int batchSize, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        var dataset = shard.Dataset;
        if (sequenceLength + 1 > dataset.Options.ChunkTokens)
        {
            throw new DataException(
                $"sequence length {sequenceLength} + 1 exceeds the chunk size {dataset.Options.ChunkTokens}; use shorter sequences or larger chunks");
        }

        Shard = shard;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        _tokens = dataset.Tokens;
        var usable = shard.Chunks.Where(c => dataset.ChunkLength(c) >= sequenceLength + 1).ToArray();
        if (usable.Length == 0)
        {
            throw new DataException($"replica {shard.ReplicaIndex}'s shard has no chunk of {sequenceLength + 1} tokens; add text or use shorter sequences");
        }

        _chunkStarts = usable.Select(dataset.ChunkStart).ToArray();
        _chunkLengths = usable.Select(dataset.ChunkLength).ToArray();
        _cumulative = new int[usable.Length + 1];
        _chunkOffsets = new int[usable.Length];
        _stream = Hash64.Combine(SamplerDomain, (ulong)shard.Seed, ((ulong)(uint)shard.ReplicaIndex << 32) | (uint)shard.ReplicaCount);
        Fingerprint = ComputeFingerprint(dataset, shard, batchSize, sequenceLength);
        StartEpoch(0);
    }

    /// <summary>The shard batches come from.</summary>
    public ReplicaShard Shard { get; }

    /// <summary>Rows per batch (B).</summary>
    public int BatchSize { get; }

    /// <summary>Inputs per row (T); each row holds T+1 tokens.</summary>
    public int SequenceLength { get; }

    /// <summary>Elements a destination buffer needs: B x (T+1).</summary>
    public int BatchElements => BatchSize * (SequenceLength + 1);

    /// <summary>Windows in the current epoch.</summary>
    public long WindowsPerEpoch => _order.Length;

    /// <summary>Identity of shard and batch shape, stored in <see cref="SamplerState"/>.</summary>
    public ulong Fingerprint { get; }

    /// <summary>The exact position, to store in a checkpoint.</summary>
    public SamplerState GetState() => new(_epoch, _position, Fingerprint);

    /// <summary>Returns to a position saved by <see cref="GetState"/>; the following batches are identical.</summary>
    /// <exception cref="DataException">The state belongs to another shard, seed or batch shape.</exception>
    public void Restore(SamplerState state)
    {
        if (state.Fingerprint != Fingerprint)
        {
            throw new DataException(
                "sampler state belongs to another corpus, shard, seed or batch shape; resume with the same settings or start the data order afresh");
        }

        if (state.Epoch < 0 || state.Position < 0)
        {
            throw new DataException($"sampler state (epoch {state.Epoch}, position {state.Position}) is invalid");
        }

        if (state.Epoch != _epoch)
        {
            StartEpoch(state.Epoch);
        }

        if (state.Position > _order.Length)
        {
            throw new DataException($"sampler state position {state.Position} is past the {_order.Length} windows of epoch {state.Epoch}");
        }

        _position = state.Position;
    }

    /// <summary>Writes the next batch, (B, T+1) row-major, into <paramref name="destination"/>.</summary>
    public void NextBatch(Span<long> destination)
    {
        var row = SequenceLength + 1;
        CheckLength(destination.Length);
        for (var b = 0; b < BatchSize; b++)
        {
            var source = NextWindow();
            var target = destination.Slice(b * row, row);
            for (var t = 0; t < row; t++)
            {
                target[t] = source[t];
            }
        }
    }

    /// <summary>Writes the next batch, (B, T+1) row-major, into <paramref name="destination"/>.</summary>
    public void NextBatch(Span<int> destination)
    {
        var row = SequenceLength + 1;
        CheckLength(destination.Length);
        for (var b = 0; b < BatchSize; b++)
        {
            var source = NextWindow();
            var target = destination.Slice(b * row, row);
            for (var t = 0; t < row; t++)
            {
                target[t] = source[t];
            }
        }
    }

    private void CheckLength(int length)
    {
        if (length != BatchElements)
        {
            throw new ArgumentException($"batch buffer has {length} elements; B x (T+1) = {BatchElements}");
        }
    }

    private ReadOnlySpan<ushort> NextWindow()
    {
        if (_position == _order.Length)
        {
            StartEpoch(_epoch + 1);
        }

        var window = _order[_position++];

        // Largest slot s with _cumulative[s] <= window; the prefix sums are strictly increasing
        // because every usable chunk has at least one window.
        var slot = Array.BinarySearch(_cumulative, window);
        slot = slot >= 0 ? slot : ~slot - 1;

        var start = _chunkStarts[slot] + _chunkOffsets[slot] + ((window - _cumulative[slot]) * SequenceLength);
        return _tokens.Span.Slice(start, SequenceLength + 1);
    }

    // Epoch e: offset o_e in [0, T), reduced per chunk so every chunk of >= T+1 tokens keeps at
    // least one window; then a seeded shuffle of all window ids.
    private void StartEpoch(long epoch)
    {
        var epochSeed = Hash64.Combine(_stream, (ulong)epoch);
        var offset = (int)(Hash64.Mix(epochSeed) % (ulong)SequenceLength);
        long total = 0;
        for (var s = 0; s < _chunkStarts.Length; s++)
        {
            var slack = _chunkLengths[s] - SequenceLength; // >= 1
            _chunkOffsets[s] = offset % slack;
            _cumulative[s] = checked((int)total);
            total += (_chunkLengths[s] - _chunkOffsets[s] - 1) / SequenceLength;
        }

        _cumulative[^1] = checked((int)total);
        if (_order.Length != total)
        {
            _order = new int[total];
        }

        for (var i = 0; i < _order.Length; i++)
        {
            _order[i] = i;
        }

        new SplitMix64(epochSeed).Shuffle(_order);
        _epoch = epoch;
        _position = 0;
    }

    private static ulong ComputeFingerprint(TokenDataset dataset, ReplicaShard shard, int batchSize, int sequenceLength)
    {
        var h = Hash64.Combine((ulong)dataset.Tokens.Length, (ulong)dataset.Options.ChunkTokens, (ulong)dataset.Options.SplitSeed);
        h = Hash64.Combine(h, BitConverter.DoubleToUInt64Bits(dataset.Options.ValidationFraction), (ulong)dataset.Options.MinValidationChunks);
        // Chunk-split samplers keep the fingerprint they had before the document split existed, so old checkpoints resume.
        h = dataset.Options.Unit == DatasetSplitUnit.Chunk ? h : Hash64.Combine(h, 0x444F43554D454E54UL); // "DOCUMENT"
        h = Hash64.Combine(h, (ulong)shard.Seed, ((ulong)(uint)shard.ReplicaIndex << 32) | (uint)shard.ReplicaCount);
        return Hash64.Combine(h, (ulong)batchSize, (ulong)sequenceLength);
    }
}
