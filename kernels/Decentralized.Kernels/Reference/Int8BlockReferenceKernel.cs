namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="Int8BlockKernel"/>. Layout for n values in blocks of B:
/// <code>
/// +----------------------------------+---------------------------+
/// | scale[0..ceil(n/B)) fp32 LE      | code[0..n) int8           |
/// +----------------------------------+---------------------------+
/// value[i] = code[i] * scale[i / B];   code in [-127, 127]
/// </code>
/// With bf16 scales each scale is 2 bytes (the upper half of its fp32 bits, little-endian).</summary>
public sealed class Int8BlockReferenceKernel : IValueKernel
{
    private const float QMax = 127f;

    /// <summary>Creates the reference for block size <paramref name="blockSize"/>.</summary>
    public Int8BlockReferenceKernel(int blockSize, bool stochasticRounding, BlockScaleFormat scaleFormat = BlockScaleFormat.Fp32)
    {
        Options = new ValueCodecOptions(ValueCodecKind.Int8, blockSize, stochasticRounding, scaleFormat);
    }

    /// <inheritdoc />
    public ValueCodecOptions Options { get; }

    /// <inheritdoc />
    public int EncodedLength(int count) => checked(BlockScale.BlockCount(count, Options.BlockSize) * Options.ScaleBytes + count);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        Span<byte> codes = destination.Slice(blocks * Options.ScaleBytes, source.Length);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            int end = Math.Min(start + blockSize, source.Length);
            float absMax = 0f;
            for (int i = start; i < end; i++)
            {
                absMax = Math.Max(absMax, Math.Abs(source[i]));
            }

            BlockScale.Compute(absMax, QMax, Options.ScaleFormat, out float scale, out float inverse);
            BlockScale.Write(destination, b, scale, Options.ScaleFormat);
            for (int i = start; i < end; i++)
            {
                int code = Options.StochasticRounding
                    ? BlockScale.RoundStochastic(source[i], inverse, QMax,
                        StochasticRounding.Uniform(rounding.Key, rounding.CounterBase + (uint)i))
                    : BlockScale.RoundNearest(source[i], inverse, QMax);
                codes[i] = (byte)(sbyte)code;
            }
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(destination.Length, blockSize);
        ReadOnlySpan<byte> codes = source.Slice(blocks * Options.ScaleBytes);
        for (int i = 0; i < destination.Length; i++)
        {
            int b = i / blockSize;
            float scale = BlockScale.Read(source, b, Options.ScaleFormat);
            if (!BlockScale.IsValidScale(scale))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int8, b, scale);
            }

            destination[i] = (sbyte)codes[i] * scale;
        }
    }
}
