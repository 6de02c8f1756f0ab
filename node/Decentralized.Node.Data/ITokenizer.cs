namespace Decentralized.Node.Data;

/// <summary>
/// Turns text into token ids and back. Implementations are immutable and safe to share between
/// threads; ids are always in <c>[0, VocabSize)</c>.
/// </summary>
public interface ITokenizer
{
    /// <summary>Stable identifier stored in token files and cache keys ("byte", "gpt2").</summary>
    string Id { get; }

    /// <summary>Number of distinct ids; the model's embedding and output sizes.</summary>
    int VocabSize { get; }

    /// <summary>
    /// Ids placed between two documents in a token stream. GPT-2 has a spare end-of-text id; the
    /// byte vocabulary has none, so it separates documents with a blank line instead.
    /// </summary>
    IReadOnlyList<int> DocumentSeparator { get; }

    /// <summary>Encodes <paramref name="text"/> into ids.</summary>
    int[] Encode(string text);

    /// <summary>Decodes ids back to text (invalid byte sequences become U+FFFD).</summary>
    string Decode(ReadOnlySpan<int> tokens);
}
