using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol;

/// <summary>Helpers for protocol streams: half-close and uvarint length-prefixed messages.</summary>
public static class StreamExtensions
{
    /// <summary>Half-closes <paramref name="stream"/> if it supports it (<see cref="IHalfCloseable"/>); otherwise only flushes.</summary>
    public static async ValueTask CloseWriteAsync(this Stream stream, CancellationToken cancellationToken = default)
    {
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (stream is IHalfCloseable halfCloseable)
        {
            await halfCloseable.CloseWriteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes <c>uvarint(length) ‖ message</c> and flushes.</summary>
    public static async ValueTask WriteLengthPrefixedAsync(this Stream stream, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        var prefix = new byte[Varint.MaxMultiformatsBytes];
        var n = Varint.Write(prefix, (ulong)message.Length);
        await stream.WriteAsync(prefix.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads one <c>uvarint(length) ‖ message</c>; null at a clean end of stream. A length above
    /// <paramref name="maxLength"/> throws <see cref="ProtocolErrorCode.MessageTooLarge"/> before anything is allocated.
    /// </summary>
    public static async ValueTask<byte[]?> ReadLengthPrefixedAsync(this Stream stream, int maxLength, CancellationToken cancellationToken = default)
    {
        var one = new byte[1];
        ulong length = 0;
        for (var i = 0; ; i++)
        {
            if (i >= Varint.MaxMultiformatsBytes)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidVarint, "length prefix too long");
            }
            var n = await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return i == 0 ? null : throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended inside a length prefix");
            }
            length |= (ulong)(one[0] & 0x7F) << (7 * i);
            if ((one[0] & 0x80) == 0)
            {
                break;
            }
        }
        if (length > (ulong)maxLength)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"message of {length} bytes exceeds {maxLength}");
        }
        var message = new byte[length];
        try
        {
            await stream.ReadExactlyAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended inside a message", e);
        }
        return message;
    }
}
