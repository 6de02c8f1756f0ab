using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

/// <summary>Finds inputs the codecs refuse: NaN, infinities and |x| ≥ <see cref="ValueRange.MaxMagnitude"/>.
/// One unsigned compare of the magnitude bits per element, vectorised; memory-bound.</summary>
public static class FiniteGuard
{
    private const int Stride = 1024;

    /// <summary>Index of the first refused value, or −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int FindFirstInvalid(ReadOnlySpan<float> values)
    {
        // Magnitude bits fit in 31 bits, so a signed max over them is exact: track the largest per
        // stride and compare once (two vector ops per load, memory-bound).
        ReadOnlySpan<int> bits = MemoryMarshal.Cast<float, int>(values);
        ref int first = ref MemoryMarshal.GetReference(bits);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<int> mask = Vector512.Create(0x7FFFFFFF);
            for (; i + Stride <= bits.Length; i += Stride)
            {
                Vector512<int> a = Vector512<int>.Zero;
                Vector512<int> b = Vector512<int>.Zero;
                for (int j = i; j < i + Stride; j += 32)
                {
                    a = Vector512.Max(a, Vector512.LoadUnsafe(ref first, (nuint)j) & mask);
                    b = Vector512.Max(b, Vector512.LoadUnsafe(ref first, (nuint)(j + 16)) & mask);
                }

                if (Vector512.GreaterThanOrEqualAny(Vector512.Max(a, b), Vector512.Create((int)ValueRange.MaxMagnitudeBits)))
                {
                    return ScalarFind(bits, i, i + Stride);
                }
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> mask = Vector256.Create(0x7FFFFFFF);
            for (; i + Stride <= bits.Length; i += Stride)
            {
                Vector256<int> a = Vector256<int>.Zero;
                Vector256<int> b = Vector256<int>.Zero;
                for (int j = i; j < i + Stride; j += 16)
                {
                    a = Vector256.Max(a, Vector256.LoadUnsafe(ref first, (nuint)j) & mask);
                    b = Vector256.Max(b, Vector256.LoadUnsafe(ref first, (nuint)(j + 8)) & mask);
                }

                if (Vector256.GreaterThanOrEqualAny(Vector256.Max(a, b), Vector256.Create((int)ValueRange.MaxMagnitudeBits)))
                {
                    return ScalarFind(bits, i, i + Stride);
                }
            }
        }

        return ScalarFind(bits, i, bits.Length);
    }

    /// <summary>Index of the first i where a[i] + b[i] (as float32) is refused, or −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int FindFirstInvalidSum(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException("spans differ in length");
        }

        ref float x = ref MemoryMarshal.GetReference(a);
        ref float y = ref MemoryMarshal.GetReference(b);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
            Vector256<uint> limit = Vector256.Create(ValueRange.MaxMagnitudeBits);
            for (; i + 8 <= a.Length; i += 8)
            {
                Vector256<float> sum = Vector256.LoadUnsafe(ref x, (nuint)i) + Vector256.LoadUnsafe(ref y, (nuint)i);
                Vector256<uint> bad = Vector256.GreaterThanOrEqual(sum.AsUInt32() & mask, limit);
                if (bad != Vector256<uint>.Zero)
                {
                    break;
                }
            }
        }

        for (; i < a.Length; i++)
        {
            if ((BitConverter.SingleToUInt32Bits(a[i] + b[i]) & 0x7FFFFFFFu) >= ValueRange.MaxMagnitudeBits)
            {
                return i;
            }
        }

        return -1;
    }

    private static int ScalarFind(ReadOnlySpan<int> bits, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            if ((bits[i] & 0x7FFFFFFF) >= (int)ValueRange.MaxMagnitudeBits)
            {
                return i;
            }
        }

        return -1;
    }
}
