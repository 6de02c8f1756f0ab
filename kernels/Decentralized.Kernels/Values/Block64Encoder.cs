using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

/// <summary>Where a block kernel puts one 64-value block's codes (two vectors of 32, in order).</summary>
internal interface IBlock64CodeLayout
{
    static abstract void Store(ref byte codes, int at, Vector256<byte> first, Vector256<byte> second);
}

/// <summary>
/// The block-size-64 encoder shared by the 8-bit and 4-bit block kernels; they differ only in how the codes
/// are laid out, which the layout type parameter supplies (a struct, so the store inlines).
/// </summary>
internal static class Block64Encoder
{
    // Eight blocks per step: their absmaxes reduce to one vector, one vector division each gives the eight
    // scales and reciprocals (no division latency per block), then each block's codes are taken from L1.
    // Per block about 45 instructions; the general two-pass segment loop needs three times that. Returns
    // the values handled (whole batches; the segment loop does the rest).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Encode<TLayout>(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding,
        ValueCodecOptions options, float qMaxValue) where TLayout : struct, IBlock64CodeLayout
    {
        const int B = 64;
        BlockScaleFormat format = options.ScaleFormat;
        bool stochastic = options.StochasticRounding;
        int batches = source.Length / (8 * B);
        ref float x = ref MemoryMarshal.GetReference(source);
        Span<byte> codes = destination[(blocks * options.ScaleBytes)..];
        ref byte q = ref MemoryMarshal.GetReference(codes);
        Vector256<float> qMax = Vector256.Create(qMaxValue);
        Vector256<uint> keys = Vector256.Create(rounding.Key);
        for (int batch = 0; batch < batches; batch++)
        {
            int first8 = batch * 8;
            int base8 = first8 * B;
            Vector256<float> absMax = VectorMath.MagnitudeMax8Blocks64(ref x, base8);
            BlockScale.Compute(absMax, qMaxValue, format, out Vector256<float> scales, out Vector256<float> inverses);
            BlockScale.Write(destination, first8, scales, format);
            for (int k = 0; k < 8; k++)
            {
                int at = base8 + k * B;
                VectorMath.PrefetchAhead(source, at, B);
                Vector256<float> inv = Avx2.PermuteVar8x32(inverses, Vector256.Create(k));
                uint counter = rounding.CounterBase + (uint)at;
                Vector256<byte> first = VectorMath.PackCodes32(ref x, at, inv, inv, stochastic, qMax, keys, counter);
                Vector256<byte> second = VectorMath.PackCodes32(ref x, at + 32, inv, inv, stochastic, qMax, keys, counter + 32);
                TLayout.Store(ref q, at, first, second);
            }
        }

        return batches * 8 * B;
    }
}
