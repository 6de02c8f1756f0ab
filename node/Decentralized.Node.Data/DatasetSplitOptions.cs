namespace Decentralized.Node.Data;

/// <summary>How a token stream is cut into chunks and which text is held out for validation.</summary>
public sealed record DatasetSplitOptions
{
    /// <summary>
    /// What is held out (default <see cref="DatasetSplitUnit.Document"/>): whole documents, so validation measures
    /// text the model never trained on. <see cref="DatasetSplitUnit.Chunk"/> is the earlier split, kept only to
    /// re-score results made with it.
    /// </summary>
    public DatasetSplitUnit Unit { get; init; } = DatasetSplitUnit.Document;

    /// <summary>
    /// Tokens per chunk, the unit of the train/validation split and of replica shards (default 4096).
    /// A training sequence never crosses a chunk edge, so it must be at least sequence length + 1;
    /// lower it for tiny corpora, raise it to make validation text more contiguous.
    /// </summary>
    public int ChunkTokens { get; init; } = 4096;

    /// <summary>Probability that a document unit (or, by chunk, a chunk) is held out for validation (default 0.02).</summary>
    public double ValidationFraction { get; init; } = 0.02;

    /// <summary>
    /// Fewest validation chunks (default 1): small corpora still get a validation set, taken as the
    /// chunks with the lowest split hashes.
    /// </summary>
    public int MinValidationChunks { get; init; } = 1;

    /// <summary>
    /// Seed of the split. Every replica of a run must use the same value, otherwise one replica's
    /// validation text is another's training text.
    /// </summary>
    public long SplitSeed { get; init; } = 20240917;

    /// <summary>Defaults.</summary>
    public static DatasetSplitOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of range.</summary>
    public void Validate()
    {
        if (ChunkTokens is < 2 or > (1 << 24))
        {
            throw new ArgumentException($"ChunkTokens must be in [2, {1 << 24}], was {ChunkTokens}");
        }

        if (!(ValidationFraction >= 0 && ValidationFraction <= 0.5))
        {
            throw new ArgumentException($"ValidationFraction must be in [0, 0.5], was {ValidationFraction}");
        }

        if (!Enum.IsDefined(Unit))
        {
            throw new ArgumentException($"Unit must be document or chunk, was {Unit}");
        }

        if (MinValidationChunks < 0)
        {
            throw new ArgumentException($"MinValidationChunks must be non-negative, was {MinValidationChunks}");
        }
    }
}
