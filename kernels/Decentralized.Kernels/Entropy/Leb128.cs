namespace Decentralized.Kernels.Entropy;

/// <summary>Unsigned LEB128 varints (7 bits per byte, low first, high bit = more) for the entropy
/// stage's lengths and frequencies and the sparse index gaps (<see cref="SparseIndexCodec"/>, which keeps
/// its own reader for its 32-bit range); reads are bounded and refuse overlong or truncated encodings.</summary>
internal static class Leb128
{
    /// <summary>Bytes <see cref="Write"/> uses for <paramref name="value"/>.</summary>
    public static int Length(uint value) => value < 1u << 7 ? 1 : value < 1u << 14 ? 2 : value < 1u << 21 ? 3 : value < 1u << 28 ? 4 : 5;

    /// <summary>Writes <paramref name="value"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, uint value)
    {
        int at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at;
    }

    /// <summary>Reads a varint of at most <paramref name="maxBytes"/> bytes at <paramref name="at"/>
    /// and advances it.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> when it is truncated,
    /// longer than <paramref name="maxBytes"/>, or does not fit 31 bits.</exception>
    public static uint Read(ReadOnlySpan<byte> source, ref int at, int maxBytes)
    {
        uint value = 0;
        for (int i = 0; i < maxBytes; i++)
        {
            if (at >= source.Length)
            {
                throw AnsChunkCodec.Malformed("entropy-coded chunk ends inside a varint");
            }

            byte b = source[at++];
            if (i == 4 && b > 0x07)
            {
                // A fifth byte may only carry bits 28..30.
                throw AnsChunkCodec.Malformed("entropy-coded chunk holds a varint above 2^31 - 1");
            }

            value |= (uint)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                return value;
            }
        }

        throw AnsChunkCodec.Malformed($"entropy-coded chunk holds a varint longer than {maxBytes} bytes");
    }
}
