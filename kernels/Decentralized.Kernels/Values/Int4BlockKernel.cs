using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Blockwise absmax 4-bit quantizer (q_max 7, fp32 or bf16 scale per block), vectorised with AVX2;
/// byte layout (see <see cref="Int4BlockReferenceKernel"/>) and results identical to the reference,
/// which it falls back to where AVX2 is missing.</summary>
public sealed partial class Int4BlockKernel : IValueKernel
{
    private const float QMax = 7f;
    private readonly Int4BlockReferenceKernel _fallback;

    /// <summary>Creates the kernel for block size <paramref name="blockSize"/> (multiple of 16).</summary>
    public Int4BlockKernel(int blockSize, bool stochasticRounding, BlockScaleFormat scaleFormat = BlockScaleFormat.Fp32)
    {
        if (blockSize < ValueCodecOptions.MinBlockSize || blockSize % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a multiple of 16, at least 16");
        }

        _fallback = new Int4BlockReferenceKernel(blockSize, stochasticRounding, scaleFormat);
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
        Span<byte> packed = destination.Slice(blocks * Options.ScaleBytes, (source.Length + 1) / 2);

        // Block size 64 in batches of eight blocks; the rest in segments of whole blocks and whole
        // 32-value groups (about 4,096 values, L1-resident): scales first, then codes, so a group
        // straddling two blocks (B not a multiple of 32) finds both reciprocals, and the second read
        // of the segment hits L1.
        int done = blockSize == 64 ? EncodeBlocks64(source, destination, blocks, rounding) : 0;
        int segment = VectorMath.SegmentLength(blockSize);
        Span<float> inverses = stackalloc float[Math.Max(2, segment / blockSize)];
        for (int start = done; start < source.Length; start += segment)
        {
            int length = Math.Min(segment, source.Length - start);
            var at = new RoundingContext(rounding.Key, rounding.CounterBase + (uint)start);
            EncodeSegment(source.Slice(start), length, destination.Slice(start / blockSize * Options.ScaleBytes), packed.Slice(start / 2), inverses, at);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EncodeSegment(ReadOnlySpan<float> rest, int length, Span<byte> scales, Span<byte> packed, Span<float> inverses, RoundingContext rounding)
    {
        // `rest` runs to the end of the input, so the prefetch can reach into the next segment.
        ReadOnlySpan<float> source = rest[..length];
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * blockSize;
            ReadOnlySpan<float> block = source.Slice(start, Math.Min(blockSize, source.Length - start));
            VectorMath.PrefetchAhead(rest, start, block.Length);
            float absMax = block.Length < blockSize ? VectorMath.AbsMax(block)
                : VectorMath.Avx512 ? VectorMath.AbsMax512(ref MemoryMarshal.GetReference(block), blockSize)
                : VectorMath.AbsMax256(ref MemoryMarshal.GetReference(block), blockSize);
            BlockScale.Compute(absMax, QMax, Options.ScaleFormat, out float scale, out inverses[b]);
            BlockScale.Write(scales, b, scale, Options.ScaleFormat);
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

    // One 32-value group per step: the 32 codes are packed to bytes in order (three packs and a
    // permute), then to nibbles.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackGroups(ReadOnlySpan<float> source, Span<byte> packed, ReadOnlySpan<float> inverses, RoundingContext rounding)
    {
        bool stochastic = Options.StochasticRounding;
        int blockSize = Options.BlockSize;
        ref float x = ref MemoryMarshal.GetReference(source);
        ref byte p = ref MemoryMarshal.GetReference(packed);
        Vector256<float> qMax = Vector256.Create(QMax);
        Vector256<uint> keys = Vector256.Create(rounding.Key);
        int groups = source.Length / 32;
        var blocks = new VectorMath.BlockWalker(blockSize);
        for (int g = 0; g < groups; g++)
        {
            int at = g * 32;
            uint counter = rounding.CounterBase + (uint)at;

            // Blocks are multiples of 16, so each 16-value half lies inside one block.
            Vector256<float> invLow = Vector256.Create(inverses[blocks.Next()]);
            Vector256<float> invHigh = Vector256.Create(inverses[blocks.Next()]);
            Vector256<byte> codes = VectorMath.PackCodes32(ref x, at, invLow, invHigh, stochastic, qMax, keys, counter);

            NibbleGroup(codes).StoreUnsafe(ref p, (nuint)(g * 16));
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
        int blockSize = Options.BlockSize;
        int blocks = BlockScale.BlockCount(count, blockSize);
        ReadOnlySpan<byte> packed = source.Slice(blocks * Options.ScaleBytes);
        if (count % 2 == 1 && (packed[^1] & 0xF0) != 0)
        {
            throw new CodecException(CodecErrorCode.Malformed, "Int4 payload has a non-zero padding nibble");
        }

        if (Options.ScaleFormat == BlockScaleFormat.Fp32)
        {
            ReadOnlySpan<float> scales = MemoryMarshal.Cast<byte, float>(source[..(blocks * 4)]);
            ValidateScales(scales, 0);
            UnpackAll(packed, destination, scales);
        }
        else
        {
            // bf16: widen one segment's scales at a time to fp32 on the stack, then the same loops.
            int segment = VectorMath.SegmentLength(blockSize);
            Span<float> widened = stackalloc float[segment / blockSize + 1];
            for (int start = 0; start < count; start += segment)
            {
                int length = Math.Min(segment, count - start);
                Span<float> scales = widened[..BlockScale.BlockCount(length, blockSize)];
                int first = start / blockSize;
                ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<byte, ushort>(source.Slice(first * 2, scales.Length * 2));
                for (int b = 0; b < scales.Length; b++)
                {
                    scales[b] = BitConverter.UInt32BitsToSingle((uint)bits[b] << 16);
                }

                ValidateScales(scales, first);
                UnpackAll(packed.Slice(start / 2), destination.Slice(start, length), scales);
            }
        }

        int tail = count / 32 * 32;
        for (int i = tail; i < count; i++)
        {
            byte pair = packed[tail / 2 + (i - tail) / 2];
            int code = ((i - tail) & 1) == 0 ? (sbyte)(pair << 4) >> 4 : (sbyte)pair >> 4;
            destination[i] = code * BlockScale.Read(source, i / blockSize, Options.ScaleFormat);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ValidateScales(ReadOnlySpan<float> scales, int firstBlock)
    {
        for (int b = 0; b < scales.Length; b++)
        {
            if (!BlockScale.IsValidScale(scales[b]))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int4, firstBlock + b, scales[b]);
            }
        }
    }

    // The whole 32-value groups of a run that starts on a group and block boundary.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UnpackAll(ReadOnlySpan<byte> packed, Span<float> values, ReadOnlySpan<float> scales)
    {
        if (VectorMath.Avx512)
        {
            UnpackGroups512(packed, values, scales);
        }
        else
        {
            UnpackGroups(packed, values, scales);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void UnpackGroups(ReadOnlySpan<byte> packed, Span<float> values, ReadOnlySpan<float> scales)
    {
        int blockSize = Options.BlockSize;
        int groups = values.Length / 32;
        var blocks = new VectorMath.BlockWalker(blockSize);
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
