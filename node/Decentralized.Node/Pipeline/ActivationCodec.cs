using Decentralized.Kernels;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// Encodes activation and gradient tensors for the wire with the value kernels of <c>kernels/</c>
/// (bf16 by default, blockwise int8 as an option). The shape never travels in the payload: the receiver
/// computes the exact payload length from a header it has already validated, and the decoder refuses
/// anything else, as well as NaN or infinite values.
/// <code>
/// payload = kernel bytes of B·T·C values, row-major (B, T, C)
///   fp32: 4 bytes/value  bf16: 2 bytes/value  int8: ⌈n/64⌉ fp32 scales, then n int8 codes
/// </code>
/// </summary>
public static class ActivationCodec
{
    private const int Int8BlockSize = 64;

    private static IValueKernel Kernel(ActivationCodecKind kind) => kind switch
    {
        ActivationCodecKind.Fp32 => ValueKernels.Create(new ValueCodecOptions(ValueCodecKind.Fp32, 0, false)),
        ActivationCodecKind.Bf16 => ValueKernels.Create(new ValueCodecOptions(ValueCodecKind.Bf16, 0, false)),
        ActivationCodecKind.Int8 => ValueKernels.Create(new ValueCodecOptions(ValueCodecKind.Int8, Int8BlockSize, false)),
        _ => throw new PipelineProtocolException(PipelineErrorCode.BadCodec, $"unknown activation codec {(byte)kind}"),
    };

    /// <summary>Exact payload bytes for <paramref name="values"/> values.</summary>
    public static long EncodedBytes(ActivationCodecKind kind, long values) => kind switch
    {
        ActivationCodecKind.Fp32 => values * 4,
        ActivationCodecKind.Bf16 => values * 2,
        ActivationCodecKind.Int8 => (values + Int8BlockSize - 1) / Int8BlockSize * 4 + values,
        _ => throw new PipelineProtocolException(PipelineErrorCode.BadCodec, $"unknown activation codec {(byte)kind}"),
    };

    /// <summary>Encodes finite values; a NaN or infinity (a diverged stage) is refused before it reaches a peer.</summary>
    public static byte[] Encode(ActivationCodecKind kind, ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!(Math.Abs(v) < ValueRange.MaxMagnitude))
                throw new PipelineProtocolException(PipelineErrorCode.NonFinite, "refusing to send a non-finite activation");
        var kernel = Kernel(kind);
        var bytes = new byte[kernel.EncodedLength(values.Length)];
        kernel.Encode(values, bytes, default);
        return bytes;
    }

    /// <summary>Decodes exactly <paramref name="values"/> values; any other length or a non-finite value is a typed error.</summary>
    public static float[] Decode(ActivationCodecKind kind, ReadOnlySpan<byte> payload, int values)
    {
        if (payload.Length != EncodedBytes(kind, values))
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"payload of {payload.Length} bytes does not hold {values} {kind} values");
        var result = new float[values];
        try { Kernel(kind).Decode(payload, result); }
        catch (CodecException e) { throw new PipelineProtocolException(PipelineErrorCode.NonFinite, e.Message); }
        return result;
    }
}
