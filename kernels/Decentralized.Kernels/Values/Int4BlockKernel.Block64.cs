using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

public sealed partial class Int4BlockKernel
{
    // Block size 64 (the default), eight blocks per step, as Int8BlockKernel.EncodeBlocks64; each
    // 32-value half of a block is one nibble group of 16 bytes. Returns the values handled.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int EncodeBlocks64(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding)
    {
        const int B = 64;
        BlockScaleFormat format = Options.ScaleFormat;
        bool stochastic = Options.StochasticRounding;
        int batches = source.Length / (8 * B);
        ref float x = ref MemoryMarshal.GetReference(source);
        Span<byte> packed = destination[(blocks * Options.ScaleBytes)..];
        ref byte p = ref MemoryMarshal.GetReference(packed);
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
                uint counter = rounding.CounterBase + (uint)at;
                Vector256<byte> first = VectorMath.PackCodes32(ref x, at, inv, inv, stochastic, qMax, keys, counter);
                Vector256<byte> second = VectorMath.PackCodes32(ref x, at + 32, inv, inv, stochastic, qMax, keys, counter + 32);
                NibbleGroup(first).StoreUnsafe(ref p, (nuint)(at / 2));
                NibbleGroup(second).StoreUnsafe(ref p, (nuint)(at / 2 + 16));
            }
        }

        return batches * 8 * B;
    }

    // 32 codes in order to one 16-byte group: the first 16 in the low nibbles, the next 16 in the high
    // ones. A 16-bit shift moves each byte's low nibble up; the mask drops what crossed a byte.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> NibbleGroup(Vector256<byte> codes) =>
        (codes.GetLower() & Vector128.Create((byte)0x0F))
        | (Vector128.ShiftLeft(codes.GetUpper().AsUInt16(), 4).AsByte() & Vector128.Create((byte)0xF0));
}
