using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Blockwise absmax int8 quantizer (q_max 127, fp32 or bf16 scale per block), vectorised with
/// AVX2; byte layout and results identical to <see cref="Int8BlockReferenceKernel"/>, which it falls
/// back to where AVX2 is missing.</summary>
public sealed partial class Int8BlockKernel : IValueKernel
{
    private const float QMax = 127f;
    private readonly Int8BlockReferenceKernel _fallback;

    /// <summary>Creates the kernel for block size <paramref name="blockSize"/> (multiple of 16).</summary>
    public Int8BlockKernel(int blockSize, bool stochasticRounding, BlockScaleFormat scaleFormat = BlockScaleFormat.Fp32)
    {
        if (blockSize < ValueCodecOptions.MinBlockSize || blockSize % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a multiple of 16, at least 16");
        }

        _fallback = new Int8BlockReferenceKernel(blockSize, stochasticRounding, scaleFormat);
        Options = _fallback.Options;
    }

    /// <inheritdoc />
    public ValueCodecOptions Options { get; }

    internal static bool Accelerated => Avx2.IsSupported && BitConverter.IsLittleEndian;

    // The AVX-512 whole-block paths write and read fp32 scales inline; bf16 scales take the AVX2 paths.
    private bool UseAvx512 => VectorMath.Avx512 && Options.ScaleFormat == BlockScaleFormat.Fp32;

    /// <inheritdoc />
    public int EncodedLength(int count) => _fallback.EncodedLength(count);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        if (!Accelerated)
        {
            _fallback.Encode(source, destination, rounding);
            return;
        }

        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        int scaleBytes = Options.ScaleBytes;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        Span<byte> codes = destination.Slice(blocks * scaleBytes, source.Length);
        int done = blockSize == 64 ? EncodeBlocks64(source, destination, blocks, rounding)
            : UseAvx512 ? EncodeFullBlocks512(source, destination, blocks, rounding)
            : 0;

        // The rest (other block sizes, the last blocks): segments of whole blocks and 32-value
        // groups, scales first, then codes, so per-block work is a few inlined instructions and the
        // second read of a segment hits L1.
        int segment = VectorMath.SegmentLength(blockSize);
        Span<float> inverses = stackalloc float[Math.Max(2, segment / blockSize)];
        for (int start = done; start < source.Length; start += segment)
        {
            int length = Math.Min(segment, source.Length - start);
            var at = new RoundingContext(rounding.Key, rounding.CounterBase + (uint)start);
            EncodeSegment(source.Slice(start), length, destination.Slice(start / blockSize * scaleBytes), codes.Slice(start, length), inverses, at);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodeSegment(ReadOnlySpan<float> rest, int length, Span<byte> scales, Span<byte> codes, Span<float> inverses, RoundingContext rounding)
    {
        // `rest` runs to the end of the input, so the prefetch can reach into the next segment.
        ReadOnlySpan<float> source = rest[..length];
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(length, blockSize);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            ReadOnlySpan<float> block = source.Slice(start, Math.Min(blockSize, length - start));
            VectorMath.PrefetchAhead(rest, start, block.Length);
            float absMax = block.Length < blockSize
                ? VectorMath.AbsMax(block)
                : VectorMath.AbsMax256(ref MemoryMarshal.GetReference(block), blockSize);
            BlockScale.Compute(absMax, QMax, Options.ScaleFormat, out float scale, out inverses[b]);
            BlockScale.Write(scales, b, scale, Options.ScaleFormat);
        }

        int packed = PackGroups(source, codes, inverses, rounding);
        for (int i = packed; i < length; i++)
        {
            float inverse = inverses[i / blockSize];
            int code = Options.StochasticRounding
                ? BlockScale.RoundStochastic(source[i], inverse, QMax, StochasticRounding.Uniform(rounding.Key, rounding.CounterBase + (uint)i))
                : BlockScale.RoundNearest(source[i], inverse, QMax);
            codes[i] = (byte)(sbyte)code;
        }
    }

    // 32 values per step (two 16-value halves, each inside one block): four conversions, three packs
    // and one permute (the generic Vector256.Narrow costs about twice that). Returns values coded.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int PackGroups(ReadOnlySpan<float> source, Span<byte> codes, ReadOnlySpan<float> inverses, RoundingContext rounding)
    {
        bool stochastic = Options.StochasticRounding;
        ref float x = ref MemoryMarshal.GetReference(source);
        ref byte q = ref MemoryMarshal.GetReference(codes);
        Vector256<float> qMax = Vector256.Create(QMax);
        Vector256<uint> keys = Vector256.Create(rounding.Key);
        var blocks = new VectorMath.BlockWalker(Options.BlockSize);
        int groups = source.Length / 32;
        for (int g = 0; g < groups; g++)
        {
            int at = g * 32;
            Vector256<float> invLow = Vector256.Create(inverses[blocks.Next()]);
            Vector256<float> invHigh = Vector256.Create(inverses[blocks.Next()]);
            uint counter = rounding.CounterBase + (uint)at;
            Vector256<byte> packed = VectorMath.PackCodes32(ref x, at, invLow, invHigh, stochastic, qMax, keys, counter);
            packed.StoreUnsafe(ref q, (nuint)at);
        }

        return groups * 32;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Accelerated)
        {
            _fallback.Decode(source, destination);
            return;
        }

        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        BlockScaleFormat format = Options.ScaleFormat;
        int blocks = BlockScale.BlockCount(destination.Length, blockSize);
        ReadOnlySpan<byte> codes = source.Slice(blocks * Options.ScaleBytes);
        int done = 0;
        if (UseAvx512)
        {
            ReadOnlySpan<float> scales = MemoryMarshal.Cast<byte, float>(source[..(blocks * 4)]);
            for (int b = 0; b < blocks; b++)
            {
                if (!BlockScale.IsValidScale(scales[b]))
                {
                    throw KernelGuards.BadScale(ValueCodecKind.Int8, b, scales[b]);
                }
            }

            done = DecodeFullBlocks512(scales, codes, destination, blockSize);
        }

        for (int b = done / blockSize; b < blocks; b++)
        {
            float scale = BlockScale.Read(source, b, format);
            if (!BlockScale.IsValidScale(scale))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int8, b, scale);
            }

            int start = b * blockSize;
            int length = Math.Min(blockSize, destination.Length - start);
            DequantizeBlock(codes.Slice(start, length), destination.Slice(start, length), scale);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DequantizeBlock(ReadOnlySpan<byte> codes, Span<float> values, float scale)
    {
        Vector256<float> s = Vector256.Create(scale);
        fixed (byte* q = codes)
        fixed (float* y = values)
        {
            int i = 0;
            for (; i + 16 <= values.Length; i += 16)
            {
                Vector256<float> v0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)q + i));
                Vector256<float> v1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)q + i + 8));
                (v0 * s).Store(y + i);
                (v1 * s).Store(y + i + 8);
            }

            for (; i < values.Length; i++)
            {
                y[i] = (sbyte)q[i] * scale;
            }
        }
    }
}
