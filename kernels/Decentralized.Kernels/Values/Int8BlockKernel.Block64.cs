using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

public sealed partial class Int8BlockKernel
{
    // Block size 64 (the default), eight blocks per step: their absmaxes reduce to one vector, one
    // vector division each gives the eight scales and reciprocals (no division latency per block),
    // then each block's codes are taken from L1. Per block about 45 instructions; the general
    // two-pass segment loop needs three times that. Returns the values handled (whole batches; the
    // segment loop does the rest).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int EncodeBlocks64(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding)
    {
        const int B = 64;
        BlockScaleFormat format = Options.ScaleFormat;
        bool stochastic = Options.StochasticRounding;
        int batches = source.Length / (8 * B);
        ref float x = ref MemoryMarshal.GetReference(source);
        Span<byte> codes = destination[(blocks * Options.ScaleBytes)..];
        ref byte q = ref MemoryMarshal.GetReference(codes);
        Vector256<float> qMax = Vector256.Create(QMax);
        Vector256<uint> keys = Vector256.Create(rounding.Key);
        for (int batch = 0; batch < batches; batch++)
        {
            int first8 = batch * 8;
            int base8 = first8 * B;
            Vector256<float> absMax = VectorMath.MagnitudeMax8Blocks64(ref x, base8);
            BlockScale.Compute(absMax, QMax, format, out Vector256<float> scales, out Vector256<float> inverses);
            BlockScale.Write(destination, first8, scales, format);
            for (int k = 0; k < 8; k++)
            {
                int at = base8 + k * B;
                VectorMath.PrefetchAhead(source, at, B);
                Vector256<float> inv = Avx2.PermuteVar8x32(inverses, Vector256.Create(k));
                PackBlock(ref x, at, inv, stochastic, qMax, keys, rounding.CounterBase + (uint)at, out Vector256<byte> first, out Vector256<byte> second);
                first.StoreUnsafe(ref q, (nuint)at);
                second.StoreUnsafe(ref q, (nuint)(at + 32));
            }
        }

        return batches * 8 * B;
    }

    // The 64 codes of the block at `at`, in order, as two 32-byte vectors.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBlock(ref float x, int at, Vector256<float> inv, bool stochastic, Vector256<float> qMax, Vector256<uint> keys,
        uint counter, out Vector256<byte> first, out Vector256<byte> second)
    {
        Vector256<float> v0 = Vector256.LoadUnsafe(ref x, (nuint)at);
        Vector256<float> v1 = Vector256.LoadUnsafe(ref x, (nuint)(at + 8));
        Vector256<float> v2 = Vector256.LoadUnsafe(ref x, (nuint)(at + 16));
        Vector256<float> v3 = Vector256.LoadUnsafe(ref x, (nuint)(at + 24));
        Vector256<float> v4 = Vector256.LoadUnsafe(ref x, (nuint)(at + 32));
        Vector256<float> v5 = Vector256.LoadUnsafe(ref x, (nuint)(at + 40));
        Vector256<float> v6 = Vector256.LoadUnsafe(ref x, (nuint)(at + 48));
        Vector256<float> v7 = Vector256.LoadUnsafe(ref x, (nuint)(at + 56));
        if (stochastic)
        {
            first = VectorMath.PackCodes(
                VectorMath.Quantize(v0, inv, qMax, true, keys, counter), VectorMath.Quantize(v1, inv, qMax, true, keys, counter + 8),
                VectorMath.Quantize(v2, inv, qMax, true, keys, counter + 16), VectorMath.Quantize(v3, inv, qMax, true, keys, counter + 24));
            second = VectorMath.PackCodes(
                VectorMath.Quantize(v4, inv, qMax, true, keys, counter + 32), VectorMath.Quantize(v5, inv, qMax, true, keys, counter + 40),
                VectorMath.Quantize(v6, inv, qMax, true, keys, counter + 48), VectorMath.Quantize(v7, inv, qMax, true, keys, counter + 56));
        }
        else
        {
            first = VectorMath.PackCodes(
                VectorMath.RoundToCodes(v0, inv), VectorMath.RoundToCodes(v1, inv),
                VectorMath.RoundToCodes(v2, inv), VectorMath.RoundToCodes(v3, inv));
            second = VectorMath.PackCodes(
                VectorMath.RoundToCodes(v4, inv), VectorMath.RoundToCodes(v5, inv),
                VectorMath.RoundToCodes(v6, inv), VectorMath.RoundToCodes(v7, inv));
        }
    }
}
