using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Decentralized.Kernels;

/// <summary>Small vector helpers shared by the fast kernels (Vector256, and Vector512 where AVX-512
/// is present). The kernels' loops carry <c>AggressiveOptimization</c>: they run once per outer round
/// over hundreds of MB, so tiered JIT (promotion after 30 calls) would leave them unoptimised, 10-50x
/// slower, for the first rounds.</summary>
internal static class VectorMath
{
    /// <summary>max |x| over <paramref name="values"/>; inputs are finite (checked upstream), so the
    /// cheaper non-NaN-propagating max is exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float AbsMax(ReadOnlySpan<float> values)
    {
        ref float first = ref MemoryMarshal.GetReference(values);
        int n = values.Length;
        int i = 0;
        float result = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc0 = Vector256<float>.Zero;
            Vector256<float> acc1 = Vector256<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                acc0 = Vector256.MaxNative(acc0, Vector256.Abs(Vector256.LoadUnsafe(ref first, (nuint)i)));
                acc1 = Vector256.MaxNative(acc1, Vector256.Abs(Vector256.LoadUnsafe(ref first, (nuint)(i + 8))));
            }

            for (; i + 8 <= n; i += 8)
            {
                acc0 = Vector256.MaxNative(acc0, Vector256.Abs(Vector256.LoadUnsafe(ref first, (nuint)i)));
            }

            result = HorizontalMax(Vector256.MaxNative(acc0, acc1));
        }

        for (; i < n; i++)
        {
            result = Math.Max(result, Math.Abs(Unsafe.Add(ref first, i)));
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector256<float> v)
    {
        Vector128<float> m = Vector128.MaxNative(v.GetLower(), v.GetUpper());
        m = Vector128.MaxNative(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.MaxNative(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    /// <summary>Codes of eight values: round-to-nearest-even or stochastic, clamped to ±q_max.
    /// Bit-identical to <see cref="BlockScale.RoundNearest"/> / <see cref="BlockScale.RoundStochastic"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Quantize(Vector256<float> x, Vector256<float> inverse, Vector256<float> qMax,
        bool stochastic, Vector256<uint> key, uint counter)
    {
        Vector256<float> scaled = x * inverse;
        Vector256<float> rounded = stochastic
            ? Vector256.Floor(scaled + StochasticRounding.Uniform(key, StochasticRounding.Counters(counter)))
            : Vector256.Round(scaled);
        rounded = Vector256.MinNative(Vector256.MaxNative(rounded, -qMax), qMax);
        return Vector256.ConvertToInt32Native(rounded);
    }

    /// <summary>True where the AVX-512 paths run: they narrow 16 codes to 16 bytes in one
    /// instruction (vpmovdb) and widen 16 bytes back in one (vpmovsxbd).</summary>
    public static bool Avx512 => !ForceAvx2 && Avx512F.IsSupported && BitConverter.IsLittleEndian;

    /// <summary>Test hook: run the AVX2 paths on an AVX-512 machine (results are identical either way).</summary>
    internal static bool ForceAvx2 { get; set; }

    /// <summary>max |x| over a run whose length is a multiple of 16, via an unsigned max of the
    /// magnitude bits (exact order for finite values, no NaN special cases).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AbsMax512(ref float first, int length)
    {
        Vector512<uint> mask = Vector512.Create(0x7FFFFFFFu);
        ref uint bits = ref Unsafe.As<float, uint>(ref first);
        Vector512<uint> acc = Vector512.LoadUnsafe(ref bits) & mask;
        for (int i = 16; i < length; i += 16)
        {
            acc = Vector512.Max(acc, Vector512.LoadUnsafe(ref bits, (nuint)i) & mask);
        }

        Vector256<uint> half = Vector256.Max(acc.GetLower(), acc.GetUpper());
        Vector128<uint> quarter = Vector128.Max(half.GetLower(), half.GetUpper());
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(2u, 3u, 0u, 1u)));
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(1u, 0u, 3u, 2u)));
        return BitConverter.UInt32BitsToSingle(quarter.ToScalar());
    }

    /// <summary>Sixteen codes, as <see cref="Quantize(Vector256{float}, Vector256{float}, Vector256{float}, bool, Vector256{uint}, uint)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Quantize(Vector512<float> x, Vector512<float> inverse, Vector512<float> qMax,
        bool stochastic, uint key, uint counter)
    {
        Vector512<float> scaled = x * inverse;
        Vector512<float> rounded;
        if (stochastic)
        {
            rounded = Vector512.Floor(scaled + StochasticRounding.Uniform16(key, counter));
        }
        else
        {
            rounded = Vector512.Round(scaled);
        }

        rounded = Vector512.MinNative(Vector512.MaxNative(rounded, -qMax), qMax);
        return Vector512.ConvertToInt32Native(rounded);
    }
}
