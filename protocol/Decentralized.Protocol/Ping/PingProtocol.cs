namespace Decentralized.Protocol.Ping;

/// <summary>
/// libp2p ping (<c>/ipfs/ping/1.0.0</c>): the dialer writes 32 random bytes, the listener echoes them, repeated until
/// the dialer half-closes.
/// <code>
///   dialer → 32 bytes payload      listener → the same 32 bytes
/// </code>
/// </summary>
public static class PingProtocol
{
    /// <summary>The ping protocol ID.</summary>
    public const string ProtocolId = "/ipfs/ping/1.0.0";

    /// <summary>Size of one ping payload.</summary>
    public const int PayloadSize = 32;

    /// <summary>Listener side: echoes 32-byte payloads until the dialer half-closes; a partial payload is an error.</summary>
    public static async Task ServeAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[PayloadSize];
        while (true)
        {
            var read = await stream.ReadAtLeastAsync(buffer, PayloadSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }
            if (read < PayloadSize)
            {
                throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, $"ping payload of {read} bytes");
            }
            await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Dialer side: sends one payload and checks the echo; throws on a mismatch.</summary>
    public static async Task PingOnceAsync(Stream stream, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length != PayloadSize)
        {
            throw new ArgumentException("ping payloads are 32 bytes", nameof(payload));
        }
        await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        var echo = new byte[PayloadSize];
        try
        {
            await stream.ReadExactlyAsync(echo, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "ping stream closed before the echo", e);
        }
        if (!payload.Span.SequenceEqual(echo))
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "ping echo does not match the payload");
        }
    }
}
