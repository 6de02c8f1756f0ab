using System.Runtime.InteropServices;
using Decentralized.Node.Swarm;

namespace Decentralized.Node.Pipeline;

/// <summary>Pipeline streams: control messages through <see cref="MessageIo"/> (bounded, untrusted) with pipeline error codes, and exact-size payloads.</summary>
public static class PipelineWire
{
    private static Exception Malformed(string message) => new PipelineProtocolException(PipelineErrorCode.Malformed, message);

    public static ValueTask WriteAsync<T>(Stream stream, T message, CancellationToken ct) => MessageIo.WriteAsync(stream, message, ct);

    /// <summary>Reads one control message of at most <paramref name="maxBytes"/>.</summary>
    public static ValueTask<T> ReadAsync<T>(Stream stream, int maxBytes, CancellationToken ct) where T : class =>
        MessageIo.ReadAsync<T>(stream, maxBytes, ct, Malformed);

    /// <summary>Reads a payload of exactly <paramref name="exactBytes"/> (the length prefix is checked before buffering).</summary>
    public static async ValueTask<byte[]> ReadPayloadAsync(Stream stream, long exactBytes, CancellationToken ct)
    {
        if (exactBytes is < 0 or > int.MaxValue - 64)
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"payload of {exactBytes} bytes is out of range");
        var bytes = await MessageIo.TryReadBytesAsync(stream, (int)exactBytes, "bad payload", ct, Malformed)
            ?? throw Malformed("stream ended early");
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
}
