using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

public sealed partial class Int4BlockKernel
{
    // One 32-value group per step: the low half's 16 codes go to the low nibbles, the high half's to
    // the high nibbles, and one vpmovdb narrows the 16 combined lanes to 16 bytes. Block indices are
    // tracked incrementally (no division per group).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void PackGroups512(ReadOnlySpan<float> source, Span<byte> packed, ReadOnlySpan<float> inverses, RoundingContext rounding)
    {
        bool stochastic = Options.StochasticRounding;
        var blocks = new VectorMath.BlockWalker(Options.BlockSize);
        Vector512<float> qMax = Vector512.Create(QMax);
        Vector512<int> low = Vector512.Create(0xF);
        int groups = source.Length / 32;
        fixed (float* x = source)
        fixed (byte* p = packed)
        {
            for (int g = 0; g < groups; g++)
            {
                int at = g * 32;
                uint counter = rounding.CounterBase + (uint)at;
                Vector512<float> invLow = Vector512.Create(inverses[blocks.Next()]);
                Vector512<float> invHigh = Vector512.Create(inverses[blocks.Next()]);
                Vector512<int> l = VectorMath.Quantize(Vector512.Load(x + at), invLow, qMax, stochastic, rounding.Key, counter);
                Vector512<int> h = VectorMath.Quantize(Vector512.Load(x + at + 16), invHigh, qMax, stochastic, rounding.Key, counter + 16);
                Avx512F.ConvertToVector128Byte((l & low) | Vector512.ShiftLeft(h & low, 4)).Store(p + g * 16);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void UnpackGroups512(ReadOnlySpan<byte> packed, Span<float> values, ReadOnlySpan<float> scales)
    {
        var blocks = new VectorMath.BlockWalker(Options.BlockSize);
        int groups = values.Length / 32;
        fixed (byte* p = packed)
        fixed (float* y = values)
        {
            for (int g = 0; g < groups; g++)
            {
                Vector512<float> sLow = Vector512.Create(scales[blocks.Next()]);
                Vector512<float> sHigh = Vector512.Create(scales[blocks.Next()]);
                Vector512<int> b = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)p + g * 16));
                Vector512<int> l = Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(b, 28), 28);
                Vector512<int> h = Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(b, 24), 28);
                (Vector512.ConvertToSingle(l) * sLow).Store(y + g * 32);
                (Vector512.ConvertToSingle(h) * sHigh).Store(y + g * 32 + 16);
            }
        }
    }

}
