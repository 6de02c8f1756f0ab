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

    /// <summary>max |x| over a run whose length is a positive multiple of 16, via an unsigned max of
    /// the magnitude bits (exact order for finite values), inlined into the quantizers' block loops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AbsMax256(ref float first, int length)
    {
        Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
        ref uint bits = ref Unsafe.As<float, uint>(ref first);
        Vector256<uint> a = Vector256.LoadUnsafe(ref bits) & mask;
        Vector256<uint> b = Vector256.LoadUnsafe(ref bits, 8) & mask;
        for (int i = 16; i < length; i += 16)
        {
            a = Vector256.Max(a, Vector256.LoadUnsafe(ref bits, (nuint)i) & mask);
            b = Vector256.Max(b, Vector256.LoadUnsafe(ref bits, (nuint)(i + 8)) & mask);
        }

        Vector128<uint> quarter = Vector128.Max(Vector256.Max(a, b).GetLower(), Vector256.Max(a, b).GetUpper());
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(2u, 3u, 0u, 1u)));
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(1u, 0u, 3u, 2u)));
        return BitConverter.UInt32BitsToSingle(quarter.ToScalar());
    }

    /// <summary>max |x| of a 64-value block held in eight registers (unsigned max of the magnitude
    /// bits, exact for finite values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AbsMax(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7)
    {
        Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
        Vector256<uint> a = Vector256.Max(v0.AsUInt32() & mask, v1.AsUInt32() & mask);
        Vector256<uint> b = Vector256.Max(v2.AsUInt32() & mask, v3.AsUInt32() & mask);
        Vector256<uint> c = Vector256.Max(v4.AsUInt32() & mask, v5.AsUInt32() & mask);
        Vector256<uint> d = Vector256.Max(v6.AsUInt32() & mask, v7.AsUInt32() & mask);
        Vector256<uint> all = Vector256.Max(Vector256.Max(a, b), Vector256.Max(c, d));
        Vector128<uint> quarter = Vector128.Max(all.GetLower(), all.GetUpper());
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(2u, 3u, 0u, 1u)));
        quarter = Vector128.Max(quarter, Vector128.Shuffle(quarter, Vector128.Create(1u, 0u, 3u, 2u)));
        return BitConverter.UInt32BitsToSingle(quarter.ToScalar());
    }

    /// <summary>Per-lane max of the magnitude bits of the 64 values at <paramref name="at"/> (a block
    /// of 64 reduced to one vector; <see cref="HorizontalMax8"/> finishes eight of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> MagnitudeMax64(ref float x, int at)
    {
        Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
        ref uint bits = ref Unsafe.As<float, uint>(ref x);
        Vector256<uint> a = Vector256.Max(Vector256.LoadUnsafe(ref bits, (nuint)at) & mask, Vector256.LoadUnsafe(ref bits, (nuint)(at + 8)) & mask);
        Vector256<uint> b = Vector256.Max(Vector256.LoadUnsafe(ref bits, (nuint)(at + 16)) & mask, Vector256.LoadUnsafe(ref bits, (nuint)(at + 24)) & mask);
        Vector256<uint> c = Vector256.Max(Vector256.LoadUnsafe(ref bits, (nuint)(at + 32)) & mask, Vector256.LoadUnsafe(ref bits, (nuint)(at + 40)) & mask);
        Vector256<uint> d = Vector256.Max(Vector256.LoadUnsafe(ref bits, (nuint)(at + 48)) & mask, Vector256.LoadUnsafe(ref bits, (nuint)(at + 56)) & mask);
        return Vector256.Max(Vector256.Max(a, b), Vector256.Max(c, d));
    }

    /// <summary>The magnitude maxima of the eight 64-value blocks from <paramref name="at"/> on, one per lane (the
    /// block-64 kernels' scales come from these in one vector division).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MagnitudeMax8Blocks64(ref float x, int at) => HorizontalMax8(
        MagnitudeMax64(ref x, at), MagnitudeMax64(ref x, at + 64), MagnitudeMax64(ref x, at + 2 * 64), MagnitudeMax64(ref x, at + 3 * 64),
        MagnitudeMax64(ref x, at + 4 * 64), MagnitudeMax64(ref x, at + 5 * 64), MagnitudeMax64(ref x, at + 6 * 64), MagnitudeMax64(ref x, at + 7 * 64)).AsSingle();

    /// <summary>Lane k = the max over all lanes of <c>a{k}</c>: eight horizontal maxima in 15
    /// instructions (two unpack levels within 128-bit halves, then the halves), instead of 6 each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> HorizontalMax8(Vector256<uint> a0, Vector256<uint> a1, Vector256<uint> a2, Vector256<uint> a3,
        Vector256<uint> a4, Vector256<uint> a5, Vector256<uint> a6, Vector256<uint> a7)
    {
        // Per half: [max(x0, x2), max(y0, y2), max(x1, x3), max(y1, y3)] for the pair (x, y).
        Vector256<uint> t0 = Vector256.Max(Avx2.UnpackLow(a0, a1), Avx2.UnpackHigh(a0, a1));
        Vector256<uint> t1 = Vector256.Max(Avx2.UnpackLow(a2, a3), Avx2.UnpackHigh(a2, a3));
        Vector256<uint> t2 = Vector256.Max(Avx2.UnpackLow(a4, a5), Avx2.UnpackHigh(a4, a5));
        Vector256<uint> t3 = Vector256.Max(Avx2.UnpackLow(a6, a7), Avx2.UnpackHigh(a6, a7));

        // Per half: the half-maxima of a0..a3 (u0) and a4..a7 (u1).
        Vector256<uint> u0 = Vector256.Max(
            Avx2.UnpackLow(t0.AsUInt64(), t1.AsUInt64()).AsUInt32(), Avx2.UnpackHigh(t0.AsUInt64(), t1.AsUInt64()).AsUInt32());
        Vector256<uint> u1 = Vector256.Max(
            Avx2.UnpackLow(t2.AsUInt64(), t3.AsUInt64()).AsUInt32(), Avx2.UnpackHigh(t2.AsUInt64(), t3.AsUInt64()).AsUInt32());
        return Vector256.Max(Avx2.Permute2x128(u0, u1, 0x20), Avx2.Permute2x128(u0, u1, 0x31));
    }

    /// <summary>Values per segment of the quantizers' encoders: whole blocks and whole 32-value
    /// groups, about 4,096 values (16 KiB, L1-resident), so the scale pass and the code pass over a
    /// segment read memory once.</summary>
    public static int SegmentLength(int blockSize)
    {
        int unit = blockSize % 32 == 0 ? blockSize : 2 * blockSize;
        return unit * Math.Max(1, 4096 / unit);
    }

    /// <summary>Yields the block index of consecutive 16-value halves without dividing (blocks are
    /// multiples of 16 values, so no half straddles two).</summary>
    public struct BlockWalker(int blockSize)
    {
        private int _block = -1;
        private int _left;

        public int Next()
        {
            if (_left == 0)
            {
                _block++;
                _left = blockSize;
            }

            _left -= 16;
            return _block;
        }
    }

    /// <summary>Round-to-nearest-even codes of eight values, for blocks whose codes provably lie
    /// within ±q_max before any clamp: |x| ≤ max|x| and inverse ≤ q_max / max|x| · (1 + 2^-22) keep
    /// |x · inverse| &lt; q_max + 1/2, so the clamp of <see cref="BlockScale.RoundNearest"/> never acts.
    /// vcvtps2dq rounds to nearest even (the default MXCSR mode, which .NET never changes) in one
    /// instruction; identical to <see cref="Quantize(Vector256{float}, Vector256{float}, Vector256{float}, bool, Vector256{uint}, uint)"/>
    /// without stochastic rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> RoundToCodes(Vector256<float> x, Vector256<float> inverse) =>
        Avx.ConvertToVector256Int32(x * inverse);

    /// <summary>The codes of the 32 values from <paramref name="at"/> on, in order, as one 32-byte vector: the first 16
    /// scaled by <paramref name="invLow"/>, the next 16 by <paramref name="invHigh"/> (16 values never straddle a block);
    /// stochastic rounding draws from <paramref name="counter"/> onwards. The q8 and q4 encoders share it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> PackCodes32(ref float x, int at, Vector256<float> invLow, Vector256<float> invHigh, bool stochastic,
        Vector256<float> qMax, Vector256<uint> keys, uint counter)
    {
        Vector256<float> x0 = Vector256.LoadUnsafe(ref x, (nuint)at);
        Vector256<float> x1 = Vector256.LoadUnsafe(ref x, (nuint)(at + 8));
        Vector256<float> x2 = Vector256.LoadUnsafe(ref x, (nuint)(at + 16));
        Vector256<float> x3 = Vector256.LoadUnsafe(ref x, (nuint)(at + 24));
        return stochastic
            ? PackCodes(
                Quantize(x0, invLow, qMax, true, keys, counter), Quantize(x1, invLow, qMax, true, keys, counter + 8),
                Quantize(x2, invHigh, qMax, true, keys, counter + 16), Quantize(x3, invHigh, qMax, true, keys, counter + 24))
            : PackCodes(RoundToCodes(x0, invLow), RoundToCodes(x1, invLow), RoundToCodes(x2, invHigh), RoundToCodes(x3, invHigh));
    }

    /// <summary>32 codes in [−128, 127], as four vectors of eight, to 32 bytes in element order:
    /// two saturating packs work within 128-bit lanes, one dword permute puts the lanes back in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> PackCodes(Vector256<int> c0, Vector256<int> c1, Vector256<int> c2, Vector256<int> c3)
    {
        Vector256<short> low = Avx2.PackSignedSaturate(c0, c1);   // lane 0: c0[0..3] c1[0..3]; lane 1: c0[4..7] c1[4..7]
        Vector256<short> high = Avx2.PackSignedSaturate(c2, c3);
        Vector256<sbyte> bytes = Avx2.PackSignedSaturate(low, high); // dwords: c0a c1a c2a c3a | c0b c1b c2b c3b
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte();
    }

    /// <summary>Bytes ahead of the current block that <see cref="PrefetchAhead"/> asks for: a few
    /// memory latencies' worth of one core's read bandwidth (about 1.3 KB per 100 ns at 13 GB/s).
    /// Measured on a 2-core EPYC VM, 64M values: q8 encoding 7.5 GB/s without, 9.3 / 9.7 / 9.9 GB/s
    /// at 1 / 2 / 4 KiB (per-block loop); 8 KiB is no better.</summary>
    public const int PrefetchDistanceBytes = 4096;

    /// <summary>Asks for the cache lines of [start, start + length) shifted <see cref="PrefetchDistanceBytes"/>
    /// ahead, where they lie inside <paramref name="values"/>. The quantizers' per-block work (a
    /// horizontal max, two divisions) otherwise leaves the hardware prefetcher behind on inputs far
    /// larger than the cache, and loads and compute stop overlapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void PrefetchAhead(ReadOnlySpan<float> values, int start, int length)
    {
        int ahead = start + PrefetchDistanceBytes / sizeof(float);
        if (!Sse.IsSupported || ahead + length > values.Length)
        {
            return;
        }

        ref float first = ref Unsafe.Add(ref MemoryMarshal.GetReference(values), ahead);
        for (int i = 0; i < length; i += 16)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref first, i)));
        }
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
