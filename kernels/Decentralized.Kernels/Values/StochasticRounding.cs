using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

/// <summary>The counter-based generator behind stochastic rounding. A pure function of (key,
/// counter), so the scalar reference and the vector kernels draw the same variate for every element.
/// A Weyl step, then the first half of the "lowbias32" finaliser (xorshift-multiply-xorshift); only
/// the top 24 bits are used, which a multiply mixes best. Two multiplies per element: rounding needs
/// unbiased, uncorrelated dither, not cryptographic quality.</summary>
public static class StochasticRounding
{
    private const uint Weyl = 0x9E3779B9u;
    private const uint Mix1 = 0x7FEB352Du;
    private const float Inv2Pow24 = 1f / 16777216f;

    /// <summary>Per-tensor key: the seed mixed with the FNV-1a hash of the tensor name.</summary>
    public static uint KeyFor(int seed, string name)
    {
        uint hash = 2166136261u;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return Hash((uint)seed, hash);
    }

    /// <summary>32 well-mixed bits for (key, counter).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(uint key, uint counter)
    {
        uint x = counter * Weyl + key;
        x ^= x >> 16;
        x *= Mix1;
        x ^= x >> 15;
        return x;
    }

    /// <summary>A uniform variate in [0, 1) with 24 random bits (exact in fp32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(uint key, uint counter) => (int)(Hash(key, counter) >> 8) * Inv2Pow24;

    /// <summary>Eight variates at once; lane i equals <see cref="Uniform(uint, uint)"/> of (key, counter[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Uniform(Vector256<uint> key, Vector256<uint> counter)
    {
        Vector256<uint> x = counter * Vector256.Create(Weyl) + key;
        x ^= Vector256.ShiftRightLogical(x, 16);
        x *= Vector256.Create(Mix1);
        x ^= Vector256.ShiftRightLogical(x, 15);
        Vector256<int> bits = Vector256.ShiftRightLogical(x, 8).AsInt32();
        return Vector256.ConvertToSingle(bits) * Vector256.Create(Inv2Pow24);
    }

    /// <summary>Sixteen variates at once; lane i equals <see cref="Uniform(uint, uint)"/> of (key, counter + i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Uniform16(uint key, uint counter)
    {
        Vector512<uint> lanes = Vector512.Create(0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u, 15u);
        Vector512<uint> x = (Vector512.Create(counter) + lanes) * Vector512.Create(Weyl) + Vector512.Create(key);
        x ^= Vector512.ShiftRightLogical(x, 16);
        x *= Vector512.Create(Mix1);
        x ^= Vector512.ShiftRightLogical(x, 15);
        Vector512<int> bits = Vector512.ShiftRightLogical(x, 8).AsInt32();
        return Vector512.ConvertToSingle(bits) * Vector512.Create(Inv2Pow24);
    }

    /// <summary>Counters counterBase + 0..7 as a vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Counters(uint counterBase) =>
        Vector256.Create(counterBase) + Vector256.Create(0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u);
}
