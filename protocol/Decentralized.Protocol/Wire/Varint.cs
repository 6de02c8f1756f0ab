namespace Decentralized.Protocol.Wire;

/// <summary>
/// Unsigned LEB128 varints as used by multiformats and protobuf.
/// <code>
///   value 300 = 0b1_0010_1100  ->  [1010_1100] [0000_0010]
///                                   ^more      ^last
/// </code>
/// Multiformats varints are at most 9 bytes and must be minimal; protobuf allows 10 bytes and padding.
/// </summary>
public static class Varint
{
    /// <summary>Most bytes a multiformats uvarint may take (63 bits of value).</summary>
    public const int MaxMultiformatsBytes = 9;

    /// <summary>Most bytes a protobuf varint may take (64 bits of value).</summary>
    public const int MaxProtobufBytes = 10;

    /// <summary>Bytes needed to encode <paramref name="value"/>.</summary>
    public static int SizeOf(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    /// <summary>Writes <paramref name="value"/> minimally; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Encodes <paramref name="value"/> into a new array.</summary>
    public static byte[] Encode(ulong value)
    {
        var bytes = new byte[SizeOf(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Reads a strict multiformats uvarint (minimal, at most 9 bytes).
    /// Returns false if <paramref name="source"/> ends before the varint does; throws on malformed input.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
        => TryReadCore(source, MaxMultiformatsBytes, strict: true, out value, out bytesRead);

    /// <summary>Reads a protobuf varint (padding allowed, at most 10 bytes). Same contract as <see cref="TryRead"/>.</summary>
    public static bool TryReadProtobuf(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
        => TryReadCore(source, MaxProtobufBytes, strict: false, out value, out bytesRead);

    /// <summary>Reads a strict multiformats uvarint that must be complete in <paramref name="source"/>.</summary>
    public static ulong Read(ReadOnlySpan<byte> source, out int bytesRead)
    {
        if (!TryRead(source, out var value, out bytesRead))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidVarint, "truncated varint");
        }
        return value;
    }

    private static bool TryReadCore(ReadOnlySpan<byte> source, int maxBytes, bool strict, out ulong value, out int bytesRead)
    {
        value = 0;
        bytesRead = 0;
        for (var i = 0; i < maxBytes; i++)
        {
            if (i >= source.Length)
            {
                return false;
            }
            var b = source[i];
            if (i == 9 && b > 1)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidVarint, "varint overflows 64 bits");
            }
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                // A zero final byte after a continuation means the encoder padded the value.
                if (strict && b == 0 && i > 0)
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidVarint, "varint is not minimally encoded");
                }
                bytesRead = i + 1;
                return true;
            }
        }
        throw new ProtocolException(ProtocolErrorCode.InvalidVarint, $"varint longer than {maxBytes} bytes");
    }
}
