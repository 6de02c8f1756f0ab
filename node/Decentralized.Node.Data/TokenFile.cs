using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Decentralized.Node.Data;

/// <summary>
/// A tokenized corpus held in memory: the tokenizer it came from and its ids as u16. Opening
/// verifies the header bounds, the exact file length, the SHA-256 checksum and that every id is
/// below the vocabulary size, so a damaged file can never feed out-of-range ids to an embedding.
/// </summary>
public sealed class TokenFile
{
    private readonly ushort[] _tokens;

    private TokenFile(string? path, string tokenizerId, int vocabSize, string source, ushort[] tokens)
    {
        Path = path;
        TokenizerId = tokenizerId;
        VocabSize = vocabSize;
        Source = source;
        _tokens = tokens;
    }

    /// <summary>File the tokens were read from; null for in-memory instances.</summary>
    public string? Path { get; }

    /// <summary>Id of the tokenizer that produced the tokens ("byte", "gpt2").</summary>
    public string TokenizerId { get; }

    /// <summary>Vocabulary size of that tokenizer; every token is below it.</summary>
    public int VocabSize { get; }

    /// <summary>What was tokenized, as recorded at build time (for logs).</summary>
    public string Source { get; }

    /// <summary>Number of tokens.</summary>
    public long Count => _tokens.LongLength;

    /// <summary>The tokens.</summary>
    public ReadOnlyMemory<ushort> Tokens => _tokens;

    /// <summary>Wraps tokens already in memory (tests, simulations); validates them like a file.</summary>
    public static TokenFile FromTokens(string tokenizerId, int vocabSize, ushort[] tokens, string source = "memory")
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (!TokenFileFormat.IsValidId(tokenizerId) || vocabSize is < 1 or > 65536)
        {
            throw new ArgumentException($"invalid tokenizer id '{tokenizerId}' or vocabulary size {vocabSize}");
        }

        var bad = FirstOutOfRange(tokens, vocabSize);
        if (bad >= 0)
        {
            throw new ArgumentException($"token {tokens[bad]} at {bad} is outside the vocabulary [0, {vocabSize})", nameof(tokens));
        }

        return new TokenFile(null, tokenizerId, vocabSize, source, tokens);
    }

    /// <summary>Reads and verifies a token file.</summary>
    /// <exception cref="DataException">Missing, unreadable, truncated, corrupt or of another format version.</exception>
    public static TokenFile Open(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return Read(stream, path);
        }
        catch (FileNotFoundException ex)
        {
            throw new DataException($"token file '{path}' does not exist; build it first or check the path", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new DataException($"token file '{path}' does not exist; build it first or check the path", ex);
        }
        catch (IOException ex)
        {
            throw new DataException($"cannot read token file '{path}': {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new DataException($"cannot read token file '{path}': permission denied", ex);
        }
    }

    private static TokenFile Read(FileStream stream, string path)
    {
        var fileLength = stream.Length;
        var headBytes = new byte[(int)Math.Min(fileLength, TokenFileFormat.MaxHeaderBytes)];
        stream.ReadExactly(headBytes);
        var header = TokenFileFormat.Decode(headBytes, path);

        // Check the length implied by the header before allocating anything of that size.
        var expected = header.Length + header.Count * sizeof(ushort) + TokenFileFormat.ChecksumBytes;
        if (fileLength != expected)
        {
            throw TokenFileFormat.Corrupt(path, $"{fileLength} bytes on disk, header implies {expected}");
        }

        var tokens = new ushort[header.Count];
        var tokenBytes = MemoryMarshal.AsBytes(tokens.AsSpan());
        stream.Position = header.Length;
        stream.ReadExactly(tokenBytes);
        Span<byte> stored = stackalloc byte[TokenFileFormat.ChecksumBytes];
        stream.ReadExactly(stored);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(tokenBytes);
        hash.AppendData(headBytes.AsSpan(0, header.Length));
        Span<byte> actual = stackalloc byte[TokenFileFormat.ChecksumBytes];
        hash.GetHashAndReset(actual);
        if (!actual.SequenceEqual(stored))
        {
            throw TokenFileFormat.Corrupt(path, "checksum mismatch");
        }

        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(tokens.AsSpan(), tokens.AsSpan());
        }

        var bad = FirstOutOfRange(tokens, header.VocabSize);
        if (bad >= 0)
        {
            throw TokenFileFormat.Corrupt(path, $"token {tokens[bad]} at {bad} is outside the vocabulary of {header.VocabSize}");
        }

        return new TokenFile(path, header.TokenizerId, header.VocabSize, header.Source, tokens);
    }

    // Vectorised scan; the whole u16 range is valid when the vocabulary has 65536 ids.
    private static int FirstOutOfRange(ReadOnlySpan<ushort> tokens, int vocabSize) =>
        vocabSize >= 65536 ? -1 : tokens.IndexOfAnyExceptInRange((ushort)0, (ushort)(vocabSize - 1));
}
