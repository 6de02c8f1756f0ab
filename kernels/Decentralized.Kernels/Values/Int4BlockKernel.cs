using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Blockwise absmax 4-bit quantizer (q_max 7, fp32 scale per block), vectorised with AVX2;
/// byte layout (see <see cref="Int4BlockReferenceKernel"/>) and results identical to the reference,
/// which it falls back to where AVX2 is missing.</summary>
public sealed partial class Int4BlockKernel : IValueKernel
{
    private const float QMax = 7f;
    private readonly Int4BlockReferenceKernel _fallback;

    /// <summary>Creates the kernel for block size <paramref name="blockSize"/> (multiple of 16).</summary>
    public Int4BlockKernel(int blockSize, bool stochasticRounding)
    {
        if (blockSize < ValueCodecOptions.MinBlockSize || blockSize % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a multiple of 16, at least 16");
        }

        _fallback = new Int4BlockReferenceKernel(blockSize, stochasticRounding);
        Options = _fallback.Options;
    }

    /// <inheritdoc />
    public ValueCodecOptions Options { get; }

    /// <inheritdoc />
    public int EncodedLength(int count) => _fallback.EncodedLength(count);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        if (!Int8BlockKernel.Accelerated)
        {
            _fallback.Encode(source, destination, rounding);
            return;
        }

        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        Span<byte> packed = destination.Slice(blocks * 4, (source.Length + 1) / 2);

        // Segments of whole blocks and whole 32-value groups (about 4,096 values, L1-resident): scales
        // first, then codes, so a group straddling two blocks (B not a multiple of 32) finds both
        // reciprocals, and the second read of the segment hits L1.
        int unit = blockSize % 32 == 0 ? blockSize : 2 * blockSize;
        int segment = unit * Math.Max(1, 4096 / unit);
        Span<float> inverses = stackalloc float[Math.Max(2, segment / blockSize)];
        for (int start = 0; start < source.Length; start += segment)
        {
            int length = Math.Min(segment, source.Length - start);
            var at = new RoundingContext(rounding.Key, rounding.CounterBase + (uint)start);
            EncodeSegment(source.Slice(start, length), destination.Slice(start / blockSize * 4), packed.Slice(start / 2), inverses, at);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodeSegment(ReadOnlySpan<float> source, Span<byte> scales, Span<byte> packed, Span<float> inverses, RoundingContext rounding)
    {
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            ReadOnlySpan<float> block = source.Slice(start, Math.Min(blockSize, source.Length - start));
            float absMax = VectorMath.Avx512 && block.Length == blockSize
                ? VectorMath.AbsMax512(ref MemoryMarshal.GetReference(block), blockSize)
                : VectorMath.AbsMax(block);
            BlockScale.Compute(absMax, QMax, out float scale, out inverses[b]);
            BinaryPrimitives.WriteSingleLittleEndian(scales.Slice(b * 4), scale);
        }

        if (VectorMath.Avx512)
        {
            PackGroups512(source, packed, inverses, rounding);
        }
        else
        {
            PackGroups(source, packed, inverses, rounding);
        }

        PackTail(source, packed, inverses, rounding);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackGroups(ReadOnlySpan<float> source, Span<byte> packed, ReadOnlySpan<float> inverses, RoundingContext rounding)
    {
        bool stochastic = Options.StochasticRounding;
        int blockSize = Options.BlockSize;
        ref float x = ref MemoryMarshal.GetReference(source);
        ref byte p = ref MemoryMarshal.GetReference(packed);
        Vector256<float> qMax = Vector256.Create(QMax);
        Vector256<uint> keys = Vector256.Create(rounding.Key);
        Vector256<int> low = Vector256.Create(0xF);
        int groups = source.Length / 32;
        var blocks = new BlockWalker(blockSize);
        for (int g = 0; g < groups; g++)
        {
            int at = g * 32;
            uint counter = rounding.CounterBase + (uint)at;

            // Blocks are multiples of 16, so each 16-value half lies inside one block.
            Vector256<float> invLow = Vector256.Create(inverses[blocks.Next()]);
            Vector256<float> invHigh = Vector256.Create(inverses[blocks.Next()]);
            Vector256<int> l0 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)at), invLow, qMax, stochastic, keys, counter);
            Vector256<int> l1 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)(at + 8)), invLow, qMax, stochastic, keys, counter + 8);
            Vector256<int> h0 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)(at + 16)), invHigh, qMax, stochastic, keys, counter + 16);
            Vector256<int> h1 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)(at + 24)), invHigh, qMax, stochastic, keys, counter + 24);
            Vector256<int> b0 = (l0 & low) | Vector256.ShiftLeft(h0 & low, 4);
            Vector256<int> b1 = (l1 & low) | Vector256.ShiftLeft(h1 & low, 4);
            Vector256<short> shorts = Vector256.Narrow(b0, b1);
            Vector128.Narrow(shorts.GetLower().AsUInt16(), shorts.GetUpper().AsUInt16()).StoreUnsafe(ref p, (nuint)(g * 16));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackTail(ReadOnlySpan<float> source, Span<byte> packed, ReadOnlySpan<float> inverses, RoundingContext rounding)
    {
        int first = source.Length / 32 * 32;
        int at = first / 2;
        for (int i = first; i < source.Length; i += 2)
        {
            int code0 = Code(source[i], inverses[i / Options.BlockSize], rounding, i);
            int code1 = i + 1 < source.Length ? Code(source[i + 1], inverses[(i + 1) / Options.BlockSize], rounding, i + 1) : 0;
            packed[at++] = (byte)((code0 & 0xF) | ((code1 & 0xF) << 4));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Code(float value, float inverse, RoundingContext rounding, int i) =>
        Options.StochasticRounding
            ? BlockScale.RoundStochastic(value, inverse, QMax, StochasticRounding.Uniform(rounding.Key, rounding.CounterBase + (uint)i))
            : BlockScale.RoundNearest(value, inverse, QMax);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Int8BlockKernel.Accelerated)
        {
            _fallback.Decode(source, destination);
            return;
        }

        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        int count = destination.Length;
        int blocks = BlockScale.BlockCount(count, Options.BlockSize);
        ReadOnlySpan<float> scales = MemoryMarshal.Cast<byte, float>(source[..(blocks * 4)]);
        for (int b = 0; b < blocks; b++)
        {
            if (!BlockScale.IsValidScale(scales[b]))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int4, b, scales[b]);
            }
        }

        ReadOnlySpan<byte> packed = source.Slice(blocks * 4);
        if (count % 2 == 1 && (packed[^1] & 0xF0) != 0)
        {
            throw new CodecException(CodecErrorCode.Malformed, "Int4 payload has a non-zero padding nibble");
        }

        if (VectorMath.Avx512)
        {
            UnpackGroups512(packed, destination, scales);
        }
        else
        {
            UnpackGroups(packed, destination, scales);
        }

        int first = count / 32 * 32;
        for (int i = first; i < count; i++)
        {
            byte pair = packed[first / 2 + (i - first) / 2];
            int code = ((i - first) & 1) == 0 ? (sbyte)(pair << 4) >> 4 : (sbyte)pair >> 4;
            destination[i] = code * scales[i / Options.BlockSize];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void UnpackGroups(ReadOnlySpan<byte> packed, Span<float> values, ReadOnlySpan<float> scales)
    {
        int blockSize = Options.BlockSize;
        int groups = values.Length / 32;
        var blocks = new BlockWalker(blockSize);
        fixed (byte* p = packed)
        fixed (float* y = values)
        {
            for (int g = 0; g < groups; g++)
            {
                int at = g * 32;
                Vector256<float> sLow = Vector256.Create(scales[blocks.Next()]);
                Vector256<float> sHigh = Vector256.Create(scales[blocks.Next()]);

                // Sign-extend each byte to 32 bits, then pull the signed low / high nibble out of it
                // with a shift left and an arithmetic shift right.
                Vector256<int> b0 = Avx2.ConvertToVector256Int32((sbyte*)p + g * 16);
                Vector256<int> b1 = Avx2.ConvertToVector256Int32((sbyte*)p + g * 16 + 8);
                Vector256<int> l0 = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(b0, 28), 28);
                Vector256<int> l1 = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(b1, 28), 28);
                Vector256<int> h0 = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(b0, 24), 28);
                Vector256<int> h1 = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(b1, 24), 28);
                (Vector256.ConvertToSingle(l0) * sLow).Store(y + at);
                (Vector256.ConvertToSingle(l1) * sLow).Store(y + at + 8);
                (Vector256.ConvertToSingle(h0) * sHigh).Store(y + at + 16);
                (Vector256.ConvertToSingle(h1) * sHigh).Store(y + at + 24);
            }
        }
    }
}
