using Decentralized.Protocol;
using MessagePack;

namespace Decentralized.Node.Swarm;

/// <summary>
/// Length-prefixed MessagePack on streams, bounded and safe for untrusted input: the one place every protocol of the
/// node (swarm, state sync, gate, pipeline) reads and writes its control messages. A protocol names the exception its
/// callers expect through <c>error</c>; the swarm's <see cref="SwarmProtocolException"/> is the default.
/// </summary>
public static class MessageIo
{
    private static readonly MessagePackSerializerOptions Untrusted =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    private static Exception SwarmError(string message) => new SwarmProtocolException(message);

    public static ValueTask WriteAsync<T>(Stream stream, T message, CancellationToken ct) =>
        stream.WriteLengthPrefixedAsync(MessagePackSerializer.Serialize(message, Untrusted), ct);

    /// <summary>Reads one message, or null when the stream ended cleanly before it (the other side is done).</summary>
    public static async ValueTask<T?> TryReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct, Func<string, Exception>? error = null) where T : class
    {
        error ??= SwarmError;
        var bytes = await TryReadBytesAsync(stream, maxBytes, $"bad {typeof(T).Name}", ct, error);
        if (bytes is null) return null;
        try { return MessagePackSerializer.Deserialize<T>(bytes, Untrusted) ?? throw error($"empty {typeof(T).Name}"); }
        catch (MessagePackSerializationException e) { throw error($"malformed {typeof(T).Name}: {e.Message}"); }
    }

    /// <summary>Reads one message; a missing, oversized or malformed one throws what <paramref name="error"/> makes.</summary>
    public static async ValueTask<T> ReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct, Func<string, Exception>? error = null) where T : class =>
        await TryReadAsync<T>(stream, maxBytes, ct, error) ?? throw (error ?? SwarmError)($"stream ended before {typeof(T).Name}");

    /// <summary>Reads one length-prefixed payload of at most <paramref name="maxBytes"/> (checked before buffering), or null at a clean end.</summary>
    public static async ValueTask<byte[]?> TryReadBytesAsync(Stream stream, int maxBytes, string what, CancellationToken ct, Func<string, Exception> error)
    {
        try { return await stream.ReadLengthPrefixedAsync(maxBytes, ct); }
        catch (ProtocolException e) { throw error($"{what}: {e.Message}"); }
    }
}
