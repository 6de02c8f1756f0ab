using System.Text;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Multistream;

/// <summary>
/// Message framing of multistream-select 1.0.
/// <code>
///   message = uvarint(len) ‖ UTF-8 text ‖ '\n'      (len counts the newline)
///   "na"    = 03 6e 61 0a
///   header  = 13 "/multistream/1.0.0\n"
/// </code>
/// </summary>
public static class MultistreamCodec
{
    /// <summary>The protocol ID of multistream-select itself (sent first by both sides).</summary>
    public const string ProtocolId = "/multistream/1.0.0";

    /// <summary>The "not available" answer.</summary>
    public const string NotAvailable = "na";

    /// <summary>The "list protocols" request.</summary>
    public const string List = "ls";

    /// <summary>Largest message accepted (js-libp2p's limit).</summary>
    public const int DefaultMaxMessageBytes = 1024;

    /// <summary>Bytes needed to frame <paramref name="text"/>.</summary>
    public static int GetEncodedLength(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text) + 1;
        return Varint.SizeOf((ulong)length) + length;
    }

    /// <summary>Frames <paramref name="text"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(Span<byte> destination, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text) + 1;
        var written = Varint.Write(destination, (ulong)length);
        written += Encoding.UTF8.GetBytes(text, destination[written..]);
        destination[written++] = (byte)'\n';
        return written;
    }

    /// <summary>Frames several messages back to back into one array (so they go out in one write).</summary>
    public static byte[] Encode(params ReadOnlySpan<string> messages)
    {
        var total = 0;
        foreach (var message in messages)
        {
            total += GetEncodedLength(message);
        }
        var bytes = new byte[total];
        var position = 0;
        foreach (var message in messages)
        {
            position += Write(bytes.AsSpan(position), message);
        }
        return bytes;
    }

    /// <summary>
    /// Decodes one message from the start of <paramref name="buffer"/>. Returns false if more bytes are needed;
    /// throws <see cref="ProtocolException"/> for an oversized, unterminated or non-UTF-8 message.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, int maxMessageBytes, out string message, out int consumed)
    {
        message = string.Empty;
        consumed = 0;
        ulong length;
        int prefix;
        try
        {
            if (!Varint.TryRead(buffer, out length, out prefix))
            {
                if (buffer.Length >= 2)
                {
                    // js accepts at most a 2-byte prefix; anything longer is oversized anyway.
                    throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, "multistream length prefix is too long");
                }
                return false;
            }
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidVarint)
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "malformed multistream length prefix", e);
        }
        CheckLength(length, maxMessageBytes);
        if ((ulong)(buffer.Length - prefix) < length)
        {
            return false;
        }
        message = DecodeBody(buffer.Slice(prefix, (int)length));
        consumed = prefix + (int)length;
        return true;
    }

    /// <summary>Validates an announced length before anything is allocated for it.</summary>
    internal static void CheckLength(ulong length, int maxMessageBytes)
    {
        if (length == 0)
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "empty multistream message");
        }
        if (length > (ulong)maxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"multistream message of {length} bytes exceeds {maxMessageBytes}");
        }
    }

    /// <summary>Checks the trailing newline and UTF-8 of a message body (newline included).</summary>
    internal static string DecodeBody(ReadOnlySpan<byte> body)
    {
        if (body[^1] != (byte)'\n')
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "multistream message does not end with a newline");
        }
        try
        {
            return ProtobufReader.StrictUtf8.GetString(body[..^1]);
        }
        catch (DecoderFallbackException e)
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "multistream message is not valid UTF-8", e);
        }
    }
}
