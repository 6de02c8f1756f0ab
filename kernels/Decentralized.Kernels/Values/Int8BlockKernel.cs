using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Blockwise absmax int8 quantizer (q_max 127, fp32 scale per block), vectorised with AVX2;
/// byte layout and results identical to <see cref="Int8BlockReferenceKernel"/>, which it falls back
/// to where AVX2 is missing.</summary>
public sealed partial class Int8BlockKernel : IValueKernel
{
    private const float QMax = 127f;
    private readonly Int8BlockReferenceKernel _fallback;

    /// <summary>Creates the kernel for block size <paramref name="blockSize"/> (multiple of 16).</summary>
    public Int8BlockKernel(int blockSize, bool stochasticRounding)
    {
        if (blockSize < ValueCodecOptions.MinBlockSize || blockSize % 16 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a multiple of 16, at least 16");
        }

        _fallback = new Int8BlockReferenceKernel(blockSize, stochasticRounding);
        Options = _fallback.Options;
    }

    /// <inheritdoc />
    public ValueCodecOptions Options { get; }

    internal static bool Accelerated => Avx2.IsSupported && BitConverter.IsLittleEndian;

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
        int blocks = BlockScale.BlockCount(source.Length, blockSize);
        Span<byte> codes = destination.Slice(blocks * 4, source.Length);
        int done = VectorMath.Avx512 ? EncodeFullBlocks512(source, destination, blocks, rounding) : 0;
        for (int b = done / blockSize; b < blocks; b++)
        {
            int start = b * blockSize;
            ReadOnlySpan<float> block = source.Slice(start, Math.Min(blockSize, source.Length - start));
            BlockScale.Compute(VectorMath.AbsMax(block), QMax, out float scale, out float inverse);
            BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(b * 4), scale);
            QuantizeBlock(block, codes.Slice(start, block.Length), inverse, rounding.Key, rounding.CounterBase + (uint)start);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void QuantizeBlock(ReadOnlySpan<float> block, Span<byte> codes, float inverse, uint key, uint counter)
    {
        bool stochastic = Options.StochasticRounding;
        ref float x = ref MemoryMarshal.GetReference(block);
        ref byte q = ref MemoryMarshal.GetReference(codes);
        Vector256<float> inv = Vector256.Create(inverse);
        Vector256<float> qMax = Vector256.Create(QMax);
        Vector256<uint> keys = Vector256.Create(key);
        int i = 0;
        for (; i + 16 <= block.Length; i += 16)
        {
            Vector256<int> c0 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)i), inv, qMax, stochastic, keys, counter + (uint)i);
            Vector256<int> c1 = VectorMath.Quantize(Vector256.LoadUnsafe(ref x, (nuint)(i + 8)), inv, qMax, stochastic, keys, counter + (uint)i + 8);
            Vector256<short> shorts = Vector256.Narrow(c0, c1);
            Vector128.Narrow(shorts.GetLower(), shorts.GetUpper()).AsByte().StoreUnsafe(ref q, (nuint)i);
        }

        for (; i < block.Length; i++)
        {
            float value = Unsafe.Add(ref x, i);
            int code = stochastic
                ? BlockScale.RoundStochastic(value, inverse, QMax, StochasticRounding.Uniform(key, counter + (uint)i))
                : BlockScale.RoundNearest(value, inverse, QMax);
            Unsafe.Add(ref q, i) = (byte)(sbyte)code;
        }
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
        int blocks = BlockScale.BlockCount(destination.Length, blockSize);
        ReadOnlySpan<float> scales = MemoryMarshal.Cast<byte, float>(source[..(blocks * 4)]);
        for (int b = 0; b < blocks; b++)
        {
            if (!BlockScale.IsValidScale(scales[b]))
            {
                throw KernelGuards.BadScale(ValueCodecKind.Int8, b, scales[b]);
            }
        }

        ReadOnlySpan<byte> codes = source.Slice(blocks * 4);
        int done = VectorMath.Avx512 ? DecodeFullBlocks512(scales, codes, destination, blockSize) : 0;
        for (int b = done / blockSize; b < blocks; b++)
        {
            int start = b * blockSize;
            int length = Math.Min(blockSize, destination.Length - start);
            DequantizeBlock(codes.Slice(start, length), destination.Slice(start, length), scales[b]);
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
