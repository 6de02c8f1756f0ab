using Decentralized.Protocol;
using MessagePack;

namespace Decentralized.Node.Swarm;

/// <summary>Length-prefixed MessagePack on streams, bounded and safe for untrusted input.</summary>
public static class MessageIo
{
    private static readonly MessagePackSerializerOptions Untrusted =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    public static ValueTask WriteAsync<T>(Stream stream, T message, CancellationToken ct) =>
        stream.WriteLengthPrefixedAsync(MessagePackSerializer.Serialize(message, Untrusted), ct);

    /// <summary>Reads one message, or null when the stream ended cleanly before it (the other side is done).</summary>
    public static async ValueTask<T?> TryReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct) where T : class
    {
        byte[]? bytes;
        try { bytes = await stream.ReadLengthPrefixedAsync(maxBytes, ct); }
        catch (ProtocolException e) { throw new SwarmProtocolException($"bad {typeof(T).Name}: {e.Message}"); }
        return bytes is null ? null : Deserialize<T>(bytes);
    }

    private static T Deserialize<T>(byte[] bytes)
    {
        try { return MessagePackSerializer.Deserialize<T>(bytes, Untrusted) ?? throw new SwarmProtocolException($"empty {typeof(T).Name}"); }
        catch (MessagePackSerializationException e) { throw new SwarmProtocolException($"malformed {typeof(T).Name}: {e.Message}"); }
    }

    /// <summary>Reads one message; a missing, oversized or malformed one is a <see cref="SwarmProtocolException"/>.</summary>
    public static async ValueTask<T> ReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct) where T : class =>
        await TryReadAsync<T>(stream, maxBytes, ct) ?? throw new SwarmProtocolException($"stream ended before {typeof(T).Name}");
}
