namespace Decentralized.Node.Data;

/// <summary>
/// Limits and choices for reading a user corpus. Every size is bounded so a hostile or accidental
/// input (a 10 GB line, a million files) fails with a <see cref="DataException"/> instead of
/// exhausting memory.
/// </summary>
public sealed record CorpusOptions
{
    /// <summary>
    /// A text file longer than this many characters is cut into several documents at paragraph
    /// breaks (default 1 Mi chars, about 2 MB of string). Lower it to reduce peak memory; the only
    /// visible effect is an extra document separator every so many characters.
    /// </summary>
    public int MaxDocumentChars { get; init; } = 1 << 20;

    /// <summary>
    /// Longest accepted JSONL line in characters (default 16 Mi). Raise it only for corpora whose
    /// single records really are that long.
    /// </summary>
    public int MaxLineChars { get; init; } = 16 << 20;

    /// <summary>Most files a corpus folder may contain (default 1,000,000).</summary>
    public int MaxFiles { get; init; } = 1_000_000;

    /// <summary>The JSONL field that holds a record's text (default "text").</summary>
    public string JsonlTextField { get; init; } = "text";

    /// <summary>Defaults.</summary>
    public static CorpusOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of range.</summary>
    public void Validate()
    {
        if (MaxDocumentChars < 1024 || MaxDocumentChars > (256 << 20))
        {
            throw new ArgumentException($"MaxDocumentChars must be in [1024, {256 << 20}], was {MaxDocumentChars}");
        }

        if (MaxLineChars < 16 || MaxLineChars > (512 << 20))
        {
            throw new ArgumentException($"MaxLineChars must be in [16, {512 << 20}], was {MaxLineChars}");
        }

        if (MaxFiles < 1)
        {
            throw new ArgumentException($"MaxFiles must be positive, was {MaxFiles}");
        }

        if (string.IsNullOrWhiteSpace(JsonlTextField))
        {
            throw new ArgumentException("JsonlTextField must name a field");
        }
    }
}
