namespace Decentralized.Kernels;

/// <summary>Length checks shared by every value kernel, so each failure carries the same code.</summary>
internal static class KernelGuards
{
    public static void EncodeLengths(IValueKernel kernel, int count, int destinationLength)
    {
        int needed = kernel.EncodedLength(count);
        if (destinationLength < needed)
        {
            throw new ArgumentException($"destination holds {destinationLength} bytes; {needed} are needed for {count} values");
        }
    }

    public static void DecodeLengths(IValueKernel kernel, int sourceLength, int count)
    {
        int expected = kernel.EncodedLength(count);
        if (sourceLength != expected)
        {
            throw new CodecException(CodecErrorCode.Malformed,
                $"{kernel.Options.Kind} payload for {count} values must be {expected} bytes, not {sourceLength}");
        }
    }

    public static CodecException NonFinite(ValueCodecKind kind, int index) =>
        new(CodecErrorCode.NonFiniteDecoded, $"{kind} payload decodes to a non-finite value at position {index}");

    public static CodecException BadScale(ValueCodecKind kind, int block, float scale) =>
        new(CodecErrorCode.NonFiniteDecoded, $"{kind} block {block} carries scale {scale}, outside [0, {BlockScale.MaxScale}]");
}
