using System.Buffers;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Multistream;

/// <summary>
/// multistream-select 1.0 negotiation over any duplex stream.
/// <code>
///   dialer                                   listener
///   header ‖ proposal1  ───────────────────►
///                       ◄─────────────────── header
///                       ◄─────────────────── proposal1 (accepted) | "na"
///   proposal2 (after "na") ────────────────►  …
/// </code>
/// The dialer never waits for the listener's header before sending its own (js listeners echo only on receipt).
/// Reads consume exactly the negotiation bytes, so whatever follows belongs to the selected protocol.
/// </summary>
public static class MultistreamSelect
{
    /// <summary>Most messages a listener answers before giving up (bounds a peer that proposes forever).</summary>
    public const int MaxListenerRounds = 32;

    /// <summary>
    /// Dialer side: proposes <paramref name="protocols"/> in order; returns the first one the listener accepts.
    /// Throws <see cref="ProtocolException"/> with <see cref="ProtocolErrorCode.ProtocolNotSupported"/> if none is.
    /// </summary>
    public static async Task<string> SelectAsync(Stream stream, IReadOnlyList<string> protocols, CancellationToken ct,
        int maxMessageBytes = MultistreamCodec.DefaultMaxMessageBytes)
    {
        if (protocols.Count == 0)
        {
            throw new ArgumentException("at least one protocol is required", nameof(protocols));
        }
        await WriteAsync(stream, MultistreamCodec.Encode(MultistreamCodec.ProtocolId, protocols[0]), ct).ConfigureAwait(false);
        var header = await ReadMessageAsync(stream, maxMessageBytes, ct).ConfigureAwait(false);
        if (header != MultistreamCodec.ProtocolId)
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, $"expected the multistream header, got '{Clip(header)}'");
        }
        for (var i = 0; i < protocols.Count; i++)
        {
            if (i > 0)
            {
                await WriteAsync(stream, MultistreamCodec.Encode(protocols[i]), ct).ConfigureAwait(false);
            }
            var answer = await ReadMessageAsync(stream, maxMessageBytes, ct).ConfigureAwait(false);
            if (answer == protocols[i])
            {
                return answer;
            }
            if (answer != MultistreamCodec.NotAvailable)
            {
                throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, $"proposed '{protocols[i]}', got '{Clip(answer)}'");
            }
        }
        throw new ProtocolException(ProtocolErrorCode.ProtocolNotSupported, $"peer supports none of: {string.Join(", ", protocols)}");
    }

    /// <summary>
    /// Listener side: answers proposals until one is supported, then echoes it and returns it.
    /// <paramref name="supported"/> lists the protocols offered (also the answer to <c>ls</c>).
    /// </summary>
    public static async Task<string> ListenAsync(Stream stream, IReadOnlyCollection<string> supported, CancellationToken ct,
        int maxMessageBytes = MultistreamCodec.DefaultMaxMessageBytes)
    {
        var header = await ReadMessageAsync(stream, maxMessageBytes, ct).ConfigureAwait(false);
        if (header != MultistreamCodec.ProtocolId)
        {
            throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, $"expected the multistream header, got '{Clip(header)}'");
        }
        await WriteAsync(stream, MultistreamCodec.Encode(MultistreamCodec.ProtocolId), ct).ConfigureAwait(false);
        for (var round = 0; round < MaxListenerRounds; round++)
        {
            var proposal = await ReadMessageAsync(stream, maxMessageBytes, ct).ConfigureAwait(false);
            if (proposal != MultistreamCodec.NotAvailable && supported.Contains(proposal))
            {
                await WriteAsync(stream, MultistreamCodec.Encode(proposal), ct).ConfigureAwait(false);
                return proposal;
            }
            var answer = proposal == MultistreamCodec.List ? EncodeList(supported) : MultistreamCodec.Encode(MultistreamCodec.NotAvailable);
            await WriteAsync(stream, answer, ct).ConfigureAwait(false);
        }
        throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, $"no agreement after {MaxListenerRounds} proposals");
    }

    /// <summary>Reads exactly one framed message from <paramref name="stream"/>.</summary>
    public static async Task<string> ReadMessageAsync(Stream stream, int maxMessageBytes, CancellationToken ct)
    {
        var length = await ReadLengthPrefixAsync(stream, ct).ConfigureAwait(false);
        MultistreamCodec.CheckLength(length, maxMessageBytes);
        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            await ReadExactlyAsync(stream, buffer.AsMemory(0, (int)length), ct).ConfigureAwait(false);
            return MultistreamCodec.DecodeBody(buffer.AsSpan(0, (int)length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<ulong> ReadLengthPrefixAsync(Stream stream, CancellationToken ct)
    {
        // Byte by byte so nothing past the message is consumed; js caps the prefix at 2 bytes.
        var prefix = new byte[2];
        for (var i = 0; i < prefix.Length; i++)
        {
            await ReadExactlyAsync(stream, prefix.AsMemory(i, 1), ct).ConfigureAwait(false);
            if ((prefix[i] & 0x80) == 0)
            {
                try
                {
                    return Varint.Read(prefix.AsSpan(0, i + 1), out _);
                }
                catch (ProtocolException e)
                {
                    throw new ProtocolException(ProtocolErrorCode.NegotiationFailed, "malformed multistream length prefix", e);
                }
            }
        }
        throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, "multistream length prefix is longer than 2 bytes");
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "stream ended during multistream negotiation", e);
        }
    }

    private static async Task WriteAsync(Stream stream, byte[] bytes, CancellationToken ct)
    {
        await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    private static byte[] EncodeList(IReadOnlyCollection<string> supported)
    {
        // ls answer: one outer message whose body is the framed protocol names followed by '\n'.
        var inner = MultistreamCodec.Encode([.. supported]);
        var body = new byte[inner.Length + 1];
        inner.CopyTo(body, 0);
        body[^1] = (byte)'\n';
        var result = new byte[Varint.SizeOf((ulong)body.Length) + body.Length];
        var written = Varint.Write(result, (ulong)body.Length);
        body.CopyTo(result, written);
        return result;
    }

    private static string Clip(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
