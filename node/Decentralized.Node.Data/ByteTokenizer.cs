using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// The simplest possible tokenizer: one id per UTF-8 byte (vocabulary 256). Needs no data files,
/// never sees an unknown symbol, and keeps small CPU models small (256-row embedding).
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    /// <summary>The identifier stored in token files.</summary>
    public const string TokenizerId = "byte";

    private static readonly int[] Separator = ['\n', '\n'];

    /// <inheritdoc />
    public string Id => TokenizerId;

    /// <inheritdoc />
    public int VocabSize => 256;

    /// <inheritdoc />
    public IReadOnlyList<int> DocumentSeparator => Separator;

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            ids[i] = bytes[i];
        }

        return ids;
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> tokens)
    {
        // Small inputs decode from the stack; a rented array would cost more than it saves here.
        var bytes = tokens.Length <= 1024 ? stackalloc byte[tokens.Length] : new byte[tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
        {
            var id = tokens[i];
            if ((uint)id > 255)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token {id} at {i} is outside the byte vocabulary [0, 256)");
            }

            bytes[i] = (byte)id;
        }

        return Encoding.UTF8.GetString(bytes);
    }
}
