using System.Buffers.Binary;
using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// The on-disk layout of a token file (all integers little-endian):
/// <code>
///  offset      size   field
///  0           4      magic "DCTK"
///  4           4      format version (u32) = 1
///  8           4      vocabulary size (u32), 1..65536
///  12          1      tokenizer id length n (u8), 1..64
///  13          n      tokenizer id, ASCII [a-z0-9._-]
///  13+n        2      source description length m (u16), 0..4096
///  15+n        m      source description, UTF-8 (what was tokenized, for logs)
///  15+n+m      8      token count c (u64)
///  23+n+m      2c     tokens (u16 each, every one below the vocabulary size)
///  23+n+m+2c   32     SHA-256 of (token bytes, then header bytes 0..23+n+m)
/// +------+-----+-----+---+----+-----+------+-----+---------------------+--------+
/// | DCTK | ver | voc | n | id |  m  | src  |  c  | tokens (2c bytes)   | sha256 |
/// +------+-----+-----+---+----+-----+------+-----+---------------------+--------+
/// </code>
/// The checksum hashes the tokens first because they are streamed to disk before the count in
/// the header is known; the header is patched and hashed last.
/// </summary>
internal static class TokenFileFormat
{
    public const uint Version = 1;
    public const int MaxIdBytes = 64;
    public const int MaxSourceBytes = 4096;
    public const int ChecksumBytes = 32;

    /// <summary>Largest header: fixed fields plus the longest id and description.</summary>
    public const int MaxHeaderBytes = 4 + 4 + 4 + 1 + MaxIdBytes + 2 + MaxSourceBytes + 8;

    /// <summary>Largest token count; keeps the token bytes addressable as one span (under 2 GiB).</summary>
    public const long MaxTokens = (1L << 30) - 1;

    public static ReadOnlySpan<byte> Magic => "DCTK"u8;

    /// <summary>Parsed header fields.</summary>
    public readonly record struct Header(int VocabSize, string TokenizerId, string Source, long Count, int Length);

    /// <summary>Serialises a header; the description is truncated to fit its bound.</summary>
    public static byte[] Encode(int vocabSize, string tokenizerId, string source, long count)
    {
        ValidateId(tokenizerId);
        var id = Encoding.ASCII.GetBytes(tokenizerId);
        var src = TruncateUtf8(source, MaxSourceBytes);
        var header = new byte[4 + 4 + 4 + 1 + id.Length + 2 + src.Length + 8];
        var span = header.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)vocabSize);
        span[12] = (byte)id.Length;
        id.CopyTo(span[13..]);
        var at = 13 + id.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)src.Length);
        src.CopyTo(span[(at + 2)..]);
        BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 2 + src.Length)..], (ulong)count);
        return header;
    }

    /// <summary>Parses and bounds-checks a header from the first bytes of a file.</summary>
    public static Header Decode(ReadOnlySpan<byte> data, string path)
    {
        if (data.Length < 13 || !data[..4].SequenceEqual(Magic))
        {
            throw Corrupt(path, "not a token file (bad magic)");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (version != Version)
        {
            throw Corrupt(path, $"format version {version}, this build reads version {Version}");
        }

        var vocab = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        int idLength = data[12];
        if (vocab is 0 or > 65536 || idLength is 0 or > MaxIdBytes || data.Length < 13 + idLength + 2)
        {
            throw Corrupt(path, "header fields out of range");
        }

        var id = Encoding.ASCII.GetString(data.Slice(13, idLength));
        var at = 13 + idLength;
        int srcLength = BinaryPrimitives.ReadUInt16LittleEndian(data[at..]);
        if (srcLength > MaxSourceBytes || data.Length < at + 2 + srcLength + 8 || !IsValidId(id))
        {
            throw Corrupt(path, "header fields out of range");
        }

        var source = Encoding.UTF8.GetString(data.Slice(at + 2, srcLength));
        var count = BinaryPrimitives.ReadUInt64LittleEndian(data[(at + 2 + srcLength)..]);
        if (count > MaxTokens)
        {
            throw Corrupt(path, $"token count {count} exceeds the limit {MaxTokens}");
        }

        return new Header((int)vocab, id, source, (long)count, at + 2 + srcLength + 8);
    }

    /// <summary>Offset of the u64 token count within a header encoded for these strings.</summary>
    public static int CountOffset(byte[] header) => header.Length - 8;

    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= MaxIdBytes && id.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-');

    public static DataException Corrupt(string path, string why) =>
        new($"token file '{path}' is corrupt or truncated ({why}); delete it to rebuild the cache");

    private static void ValidateId(string id)
    {
        if (!IsValidId(id))
        {
            throw new ArgumentException($"tokenizer id '{id}' must be 1..{MaxIdBytes} chars of [a-z0-9._-]", nameof(id));
        }
    }

    private static byte[] TruncateUtf8(string text, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= maxBytes)
        {
            return bytes;
        }

        // Back off to a character boundary so the stored description stays valid UTF-8.
        var cut = maxBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        return bytes[..cut];
    }
}
