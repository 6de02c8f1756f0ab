namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="Int4BlockKernel"/>. Layout for n values in blocks of B:
/// <code>
/// +------------------------------+------------------------------------------+
/// | scale[0..ceil(n/B)) fp32 LE  | nibbles: ceil(n/2) bytes                 |
/// +------------------------------+------------------------------------------+
/// codes are 4-bit two's complement in [-7, 7]; value[i] = code[i] * scale[i / B]
/// full groups of 32 values, 16 bytes each:  byte j = code[g+j] | code[g+16+j] &lt;&lt; 4   (j &lt; 16)
/// the last n % 32 values, in pairs:          byte t = code[2t]  | code[2t+1]  &lt;&lt; 4   (high 0 if odd)
/// </code>
/// With bf16 scales each scale is 2 bytes (the upper half of its fp32 bits, little-endian).
/// The split-halves grouping lets a vector decoder produce 16 consecutive values from the low nibbles
/// and the next 16 from the high nibbles without any interleaving shuffle.</summary>
public sealed class Int4BlockReferenceKernel : IValueKernel
{
    private const float QMax = 7f;

    /// <summary>Creates the reference for block size <paramref name="blockSize"/>.</summary>
    public Int4BlockReferenceKernel(int blockSize, bool stochasticRounding, BlockScaleFormat scaleFormat = BlockScaleFormat.Fp32)
    {
        Options = new ValueCodecOptions(ValueCodecKind.Int4, blockSize, stochasticRounding, scaleFormat);
    }

    /// <inheritdoc />
    public ValueCodecOptions Options { get; }

    /// <inheritdoc />
    public int EncodedLength(int count) =>
        checked(BlockScale.BlockCount(count, Options.BlockSize) * Options.ScaleBytes + (int)(((long)count + 1) / 2));

    /// <summary>Byte index and nibble (0 low, 1 high) of value <paramref name="i"/> among <paramref name="count"/>.</summary>
    public static (int Byte, int Nibble) NibbleOf(int i, int count)
    {
        int fullGroups = count / 32;
        if (i < fullGroups * 32)
        {
            int g = i / 32;
            int j = i % 32;
            return (g * 16 + (j & 15), j >> 4);
        }

        int t = i - fullGroups * 32;
        return (fullGroups * 16 + t / 2, t & 1);
    }

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        Span<byte> packed = destination.Slice(blocks * Options.ScaleBytes, EncodedLength(source.Length) - blocks * Options.ScaleBytes);
        packed.Clear();
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
                (int at, int nibble) = NibbleOf(i, source.Length);
                packed[at] |= (byte)((code & 0xF) << (4 * nibble));
            }
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        int count = destination.Length;
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(count, blockSize);
        ReadOnlySpan<byte> packed = source.Slice(blocks * Options.ScaleBytes);
        if (count % 2 == 1 && (packed[^1] & 0xF0) != 0)
        {
            throw new CodecException(CodecErrorCode.Malformed, "Int4 payload has a non-zero padding nibble");
        }

        for (int i = 0; i < count; i++)
        {
            int b = i / blockSize;
            float scale = BlockScale.Read(source, b, Options.ScaleFormat);
            if (!BlockScale.IsValidScale(scale))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int4, b, scale);
            }

            (int at, int nibble) = NibbleOf(i, count);
            int code = (sbyte)(packed[at] << (4 - 4 * nibble)) >> 4;
            destination[i] = code * scale;
        }
    }
}
