using System.Runtime.InteropServices;
using Decentralized.Protocol;
using MessagePack;

namespace Decentralized.Node.Pipeline;

/// <summary>Length-prefixed MessagePack and payloads on pipeline streams; every read is bounded and typed.</summary>
public static class PipelineWire
{
    private static readonly MessagePackSerializerOptions Untrusted =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    public static ValueTask WriteAsync<T>(Stream stream, T message, CancellationToken ct) =>
        stream.WriteLengthPrefixedAsync(MessagePackSerializer.Serialize(message, Untrusted), ct);

    /// <summary>Reads one control message of at most <paramref name="maxBytes"/>.</summary>
    public static async ValueTask<T> ReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct)
    {
        var bytes = await ReadBytesAsync(stream, maxBytes, ct);
        try
        {
            return MessagePackSerializer.Deserialize<T>(bytes, Untrusted)
                ?? throw new PipelineProtocolException(PipelineErrorCode.Malformed, $"empty {typeof(T).Name}");
        }
        catch (MessagePackSerializationException e)
        {
            throw new PipelineProtocolException(PipelineErrorCode.Malformed, $"malformed {typeof(T).Name}: {e.Message}");
        }
    }

    /// <summary>Reads a payload of exactly <paramref name="exactBytes"/> (the length prefix is checked before buffering).</summary>
    public static async ValueTask<byte[]> ReadPayloadAsync(Stream stream, long exactBytes, CancellationToken ct)
    {
        if (exactBytes is < 0 or > int.MaxValue - 64)
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"payload of {exactBytes} bytes is out of range");
        var bytes = await ReadBytesAsync(stream, (int)exactBytes, ct);
        if (bytes.LongLength != exactBytes)
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"payload of {bytes.Length} bytes, expected {exactBytes}");
        return bytes;
    }

    /// <summary>float32 values as little-endian bytes (weights travel exactly: they are copied, not averaged in transit).</summary>
    public static byte[] FloatBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>Bytes back to float32 values; NaN and infinities are refused.</summary>
    public static float[] Floats(byte[] bytes)
    {
        if (bytes.Length % 4 != 0) throw new PipelineProtocolException(PipelineErrorCode.BadShape, "float payload length is not a multiple of 4");
        var values = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        foreach (float v in values)
            if (!float.IsFinite(v)) throw new PipelineProtocolException(PipelineErrorCode.NonFinite, "non-finite weight value");
        return values;
    }

    private static async ValueTask<byte[]> ReadBytesAsync(Stream stream, int maxBytes, CancellationToken ct)
    {
        byte[]? bytes;
        try { bytes = await stream.ReadLengthPrefixedAsync(maxBytes, ct); }
        catch (ProtocolException e) { throw new PipelineProtocolException(PipelineErrorCode.Malformed, e.Message); }
        return bytes ?? throw new PipelineProtocolException(PipelineErrorCode.Malformed, "stream ended early");
    }
}
