namespace Decentralized.Node.Data;

/// <summary>
/// Tokens cut into chunks (the unit of replica shards and of training windows) with a deterministic train/validation
/// split that depends only on the split seed, never on how many replicas train, so every peer (a joiner too) agrees
/// on the held-out text without talking. Two splits exist (<see cref="DatasetSplitUnit"/>): <see cref="HeldOut"/>
/// takes a training and a validation stream whose documents were assigned whole (<see cref="HeldOutSplit"/>); the
/// chunk constructor draws each chunk of one stream. Within a stream all chunks hold ChunkTokens tokens except the
/// last: a remainder of at least half a chunk forms a short last chunk, a smaller one is appended to the last full
/// chunk (so no chunk is a useless sliver).
/// </summary>
public sealed class TokenDataset
{
    private const ulong SplitDomain = 0x53504C4954UL; // "SPLIT"
    private readonly int[] _train;
    private readonly int[] _validation;

    // Chunk i is Tokens[_starts[i].._starts[i + 1]).
    private readonly int[] _starts;

    /// <summary>Splits the tokens of a token file.</summary>
    public TokenDataset(TokenFile file, DatasetSplitOptions? options = null)
        : this(file.Tokens, file.VocabSize, options)
    {
    }

    /// <summary>Splits an in-memory token stream.</summary>
    /// <exception cref="DataException">Too few tokens for one training and one validation chunk.</exception>
    public TokenDataset(ReadOnlyMemory<ushort> tokens, int vocabSize, DatasetSplitOptions? options = null)
    {
        Options = options ?? DatasetSplitOptions.Default;
        Options.Validate();
        Tokens = tokens;
        VocabSize = vocabSize;
        var chunkTokens = Options.ChunkTokens;
        var chunkCount = CountChunks(tokens.Length, chunkTokens);
        var minimumChunks = Math.Max(Options.MinValidationChunks, 0) + 1;
        if (chunkCount < minimumChunks)
        {
            throw new DataException(
                $"corpus has only {tokens.Length} tokens ({chunkCount} chunk(s) of {chunkTokens}); a train/validation split needs at least {minimumChunks} chunks; add text or lower the chunk size");
        }

        ChunkCount = chunkCount;
        _starts = ChunkStarts(0, tokens.Length, chunkTokens).Append(tokens.Length).ToArray();
        (_train, _validation) = Split(chunkCount, Options);
    }

    private TokenDataset(ushort[] tokens, int trainTokens, int vocabSize, DatasetSplitOptions options)
    {
        Options = options;
        Tokens = tokens;
        VocabSize = vocabSize;
        var train = ChunkStarts(0, trainTokens, options.ChunkTokens).ToArray();
        var validation = ChunkStarts(trainTokens, tokens.Length - trainTokens, options.ChunkTokens).ToArray();
        _starts = [.. train, .. validation, tokens.Length];
        ChunkCount = _starts.Length - 1;
        _train = Enumerable.Range(0, train.Length).ToArray();
        _validation = Enumerable.Range(train.Length, validation.Length).ToArray();
    }

    /// <summary>
    /// A split made by whole documents: every chunk of <paramref name="train"/> trains, every chunk of
    /// <paramref name="validation"/> is held out. <see cref="Tokens"/> is their concatenation (training first).
    /// </summary>
    /// <exception cref="DataException">Either stream is empty.</exception>
    public static TokenDataset HeldOut(ReadOnlySpan<ushort> train, ReadOnlySpan<ushort> validation, int vocabSize, DatasetSplitOptions? options = null)
    {
        options ??= DatasetSplitOptions.Default;
        options.Validate();
        if (train.IsEmpty || validation.IsEmpty)
        {
            throw new DataException(
                $"the held-out split has {train.Length} training and {validation.Length} validation tokens; both need text: add documents, raise the validation fraction or use --split-unit chunk");
        }

        var tokens = new ushort[checked(train.Length + validation.Length)];
        train.CopyTo(tokens);
        validation.CopyTo(tokens.AsSpan(train.Length));
        return new TokenDataset(tokens, train.Length, vocabSize, options);
    }

    /// <summary>All tokens.</summary>
    public ReadOnlyMemory<ushort> Tokens { get; }

    /// <summary>Vocabulary size of the tokens.</summary>
    public int VocabSize { get; }

    /// <summary>The split settings.</summary>
    public DatasetSplitOptions Options { get; }

    /// <summary>Number of chunks (the last may be shorter or up to half a chunk longer).</summary>
    public int ChunkCount { get; }

    /// <summary>Indices of training chunks, ascending.</summary>
    public IReadOnlyList<int> TrainChunks => _train;

    /// <summary>Indices of validation chunks, ascending.</summary>
    public IReadOnlyList<int> ValidationChunks => _validation;

    /// <summary>Tokens in the training chunks.</summary>
    public long TrainTokenCount => _train.Sum(i => (long)ChunkLength(i));

    /// <summary>Tokens in the validation chunks.</summary>
    public long ValidationTokenCount => _validation.Sum(i => (long)ChunkLength(i));

    /// <summary>Start offset of chunk <paramref name="index"/> in <see cref="Tokens"/>.</summary>
    public int ChunkStart(int index) => (uint)index < (uint)ChunkCount ? _starts[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Length of chunk <paramref name="index"/>.</summary>
    public int ChunkLength(int index)
    {
        var start = ChunkStart(index);
        return _starts[index + 1] - start;
    }

    /// <summary>The tokens of chunk <paramref name="index"/>.</summary>
    public ReadOnlyMemory<ushort> Chunk(int index) => Tokens.Slice(ChunkStart(index), ChunkLength(index));

    /// <summary>
    /// This replica's share of the training chunks: a permutation seeded by <paramref name="seed"/>
    /// dealt round-robin, so shards of one (seed, replicaCount) are disjoint and together cover
    /// the training set.
    /// </summary>
    public ReplicaShard Shard(long seed, int replicaIndex, int replicaCount) => ReplicaShard.Create(this, seed, replicaIndex, replicaCount);

    /// <summary>The fixed validation batches (identical on every call with the same arguments).</summary>
    public ValidationBatches Validation(int batchSize, int sequenceLength, int maxBatches) =>
        new(this, batchSize, sequenceLength, maxBatches);

    // Starts of the chunks of the stream Tokens[offset..offset + length) (none when it is empty).
    private static IEnumerable<int> ChunkStarts(int offset, int length, int chunkTokens) =>
        Enumerable.Range(0, CountChunks(length, chunkTokens)).Select(i => offset + (i * chunkTokens));

    private static int CountChunks(int tokenCount, int chunkTokens)
    {
        var full = tokenCount / chunkTokens;
        var remainder = tokenCount % chunkTokens;
        return full == 0 || remainder * 2 >= chunkTokens ? full + (remainder > 0 ? 1 : 0) : full;
    }

    // Each chunk draws u = hash(seed, i) in [0, 1); u < p means validation. If that yields fewer
    // than the minimum, the chunks with the smallest u are taken instead (same rule, lower bar).
    private static (int[] Train, int[] Validation) Split(int chunkCount, DatasetSplitOptions options)
    {
        var draws = new double[chunkCount];
        var seed = Hash64.Combine(SplitDomain, (ulong)options.SplitSeed);
        var selected = 0;
        for (var i = 0; i < chunkCount; i++)
        {
            draws[i] = Hash64.ToUnit(Hash64.Combine(seed, (ulong)i));
            selected += draws[i] < options.ValidationFraction ? 1 : 0;
        }

        var isValidation = new bool[chunkCount];
        var wanted = Math.Min(Math.Max(selected, options.MinValidationChunks), chunkCount - 1);
        var order = Enumerable.Range(0, chunkCount).OrderBy(i => draws[i]).ThenBy(i => i);
        foreach (var i in order.Take(wanted))
        {
            isValidation[i] = true;
        }

        var train = Enumerable.Range(0, chunkCount).Where(i => !isValidation[i]).ToArray();
        var validation = Enumerable.Range(0, chunkCount).Where(i => isValidation[i]).ToArray();
        return (train, validation);
    }
}
