using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

public sealed partial class Int8BlockKernel
{
    // Whole blocks, 16 values per step: one vpmovdb narrows 16 codes to 16 bytes. The partial last
    // block (if any) is left to the AVX2 path. Returns the number of values handled.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe int EncodeFullBlocks512(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding)
    {
        int blockSize = Options.BlockSize;
        int fullBlocks = source.Length / blockSize;
        bool stochastic = Options.StochasticRounding;
        Vector512<float> qMax = Vector512.Create(QMax);
        fixed (float* x = source)
        fixed (byte* d = destination)
        {
            sbyte* codes = (sbyte*)(d + blocks * 4);
            for (int b = 0; b < fullBlocks; b++)
            {
                int start = b * blockSize;
                float* bx = x + start;
                BlockScale.Compute(VectorMath.AbsMax512(ref *bx, blockSize), QMax, out float scale, out float inverse);
                Unsafe.WriteUnaligned(d + b * 4, scale);
                Vector512<float> inv = Vector512.Create(inverse);
                uint counter = rounding.CounterBase + (uint)start;
                for (int i = 0; i < blockSize; i += 16)
                {
                    Vector512<int> c = VectorMath.Quantize(Vector512.Load(bx + i), inv, qMax, stochastic, rounding.Key, counter + (uint)i);
                    Avx512F.ConvertToVector128SByte(c).Store(codes + start + i);
                }
            }
        }

        return fullBlocks * blockSize;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int DecodeFullBlocks512(ReadOnlySpan<float> scales, ReadOnlySpan<byte> codes, Span<float> values, int blockSize)
    {
        int fullBlocks = values.Length / blockSize;
        fixed (float* s = scales)
        fixed (byte* q = codes)
        fixed (float* y = values)
        {
            for (int b = 0; b < fullBlocks; b++)
            {
                Vector512<float> scale = Vector512.Create(s[b]);
                int start = b * blockSize;
                for (int i = start; i < start + blockSize; i += 16)
                {
                    Vector512<int> c = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)q + i));
                    (Vector512.ConvertToSingle(c) * scale).Store(y + i);
                }
            }
        }

        return fullBlocks * blockSize;
    }
}
