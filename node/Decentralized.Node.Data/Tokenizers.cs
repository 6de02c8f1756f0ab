namespace Decentralized.Node.Data;

/// <summary>Creates tokenizers by the identifier users type and token files store.</summary>
public static class Tokenizers
{
    /// <summary>Every identifier <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> KnownIds { get; } = [ByteTokenizer.TokenizerId, Gpt2Tokenizer.TokenizerId];

    /// <summary>
    /// Returns the tokenizer named <paramref name="id"/> (case-insensitive, surrounding spaces ignored).
    /// </summary>
    /// <exception cref="DataException">The id is not one of <see cref="KnownIds"/>.</exception>
    public static ITokenizer Create(string id)
    {
        var key = (id ?? string.Empty).Trim().ToLowerInvariant();
        return key switch
        {
            ByteTokenizer.TokenizerId => new ByteTokenizer(),
            Gpt2Tokenizer.TokenizerId => new Gpt2Tokenizer(),
            _ => throw new DataException(
                $"unknown tokenizer '{Printable(id)}'; valid tokenizers are: {string.Join(", ", KnownIds)}"),
        };
    }

    // The id may come from a token file header or the command line; keep the message one short line.
    private static string Printable(string? id)
    {
        if (id is null)
        {
            return "(none)";
        }

        var clean = new string(id.Select(c => char.IsControl(c) ? '?' : c).Take(64).ToArray());
        return id.Length > 64 ? clean + "..." : clean;
    }
}
