using System.Runtime.CompilerServices;
using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

/// <summary>Exact top-k by magnitude without sorting or copying the tensor: a two-pass radix select
/// over the IEEE bits of |x| (high 16 bits, then low 16 bits of the bucket holding the k-th
/// element), O(n) time and 512 KiB of pooled histograms whatever n is. Gathering then streams over
/// chunks. Same results as <see cref="Reference.TopKSelectorReference"/>.</summary>
public static class TopKSelector
{
    private const int HighBuckets = 1 << 15; // bit 31 of |x| is always 0
    private const int LowBuckets = 1 << 16;
    private const int Copies = 4;

    /// <summary>The threshold keeping the <paramref name="k"/> largest magnitudes of
    /// <paramref name="values"/> (ties broken by lower index first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static TopKThreshold Select(ReadOnlySpan<float> values, int k)
    {
        k = Math.Min(k, values.Length);
        if (k <= 0)
        {
            return TopKThreshold.None;
        }

        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        int[] histogram = ArrayPool<int>.Shared.Rent(Copies * HighBuckets);
        try
        {
            Span<int> high = HighHistogram(bits, histogram);
            (int highBucket, long aboveHigh) = FindBucket(high, k);
            int need = (int)(k - aboveHigh);
            Span<int> low = histogram.AsSpan(0, LowBuckets);
            low.Clear();
            LowHistogram(bits, (uint)highBucket, low);
            (int lowBucket, long aboveLow) = FindBucket(low, need);
            return new TopKThreshold(((uint)highBucket << 16) | (uint)lowBucket, need - aboveLow);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(histogram);
        }
    }

    // Four interleaved histograms: neighbouring values of a gradient often share a bucket, and a
    // single histogram would then serialise on store-to-load forwarding of the same counter.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Span<int> HighHistogram(ReadOnlySpan<uint> bits, int[] histogram)
    {
        Span<int> all = histogram.AsSpan(0, Copies * HighBuckets);
        all.Clear();
        Span<int> h0 = all[..HighBuckets];
        Span<int> h1 = all.Slice(HighBuckets, HighBuckets);
        Span<int> h2 = all.Slice(2 * HighBuckets, HighBuckets);
        Span<int> h3 = all.Slice(3 * HighBuckets, HighBuckets);
        int i = 0;
        for (; i + 4 <= bits.Length; i += 4)
        {
            h0[(int)((bits[i] & 0x7FFFFFFFu) >> 16)]++;
            h1[(int)((bits[i + 1] & 0x7FFFFFFFu) >> 16)]++;
            h2[(int)((bits[i + 2] & 0x7FFFFFFFu) >> 16)]++;
            h3[(int)((bits[i + 3] & 0x7FFFFFFFu) >> 16)]++;
        }

        for (; i < bits.Length; i++)
        {
            h0[(int)((bits[i] & 0x7FFFFFFFu) >> 16)]++;
        }

        for (int b = 0; b < HighBuckets; b++)
        {
            h0[b] += h1[b] + h2[b] + h3[b];
        }

        return h0;
    }

    // Second level: only elements of the chosen high bucket count, so skip vectors without one.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowHistogram(ReadOnlySpan<uint> bits, uint highBucket, Span<int> low)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref uint first = ref MemoryMarshal.GetReference(bits);
            Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
            Vector256<uint> bucket = Vector256.Create(highBucket);
            for (; i + 8 <= bits.Length; i += 8)
            {
                Vector256<uint> magnitude = Vector256.LoadUnsafe(ref first, (nuint)i) & mask;
                uint hits = Vector256.Equals(Vector256.ShiftRightLogical(magnitude, 16), bucket).ExtractMostSignificantBits();
                while (hits != 0)
                {
                    int lane = System.Numerics.BitOperations.TrailingZeroCount(hits);
                    hits &= hits - 1;
                    low[(int)(bits[i + lane] & 0xFFFF)]++;
                }
            }
        }

        for (; i < bits.Length; i++)
        {
            uint magnitude = bits[i] & 0x7FFFFFFFu;
            if (magnitude >> 16 == highBucket)
            {
                low[(int)(magnitude & 0xFFFF)]++;
            }
        }
    }

    // Walks buckets from the largest down; returns the bucket holding the wanted-th element and how
    // many elements lie in larger buckets.
    private static (int Bucket, long Above) FindBucket(ReadOnlySpan<int> histogram, long wanted)
    {
        long above = 0;
        for (int bucket = histogram.Length - 1; bucket >= 0; bucket--)
        {
            if (above + histogram[bucket] >= wanted)
            {
                return (bucket, above);
            }

            above += histogram[bucket];
        }

        throw new InvalidOperationException("histogram holds fewer elements than requested");
    }

    /// <summary>Collects the kept elements of one chunk in index order: their positions within the
    /// chunk into <paramref name="indices"/> and their values into <paramref name="selected"/>.</summary>
    /// <param name="chunk">The chunk's values.</param>
    /// <param name="threshold">From <see cref="Select"/> over the whole tensor.</param>
    /// <param name="tiesLeft">Ties still to take; starts at <see cref="TopKThreshold.TiesToTake"/> and
    /// carries over from chunk to chunk.</param>
    /// <param name="indices">Room for up to <c>chunk.Length</c> positions.</param>
    /// <param name="selected">Room for up to <c>chunk.Length</c> values.</param>
    /// <returns>How many elements were kept.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Gather(ReadOnlySpan<float> chunk, TopKThreshold threshold, ref long tiesLeft,
        Span<int> indices, Span<float> selected)
    {
        if (threshold.MagnitudeBits == uint.MaxValue)
        {
            return 0;
        }

        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(chunk);
        uint t = threshold.MagnitudeBits;
        int count = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> mask = Vector256.Create(0x7FFFFFFFu);
            Vector256<uint> limit = Vector256.Create(t);
            ref uint first = ref MemoryMarshal.GetReference(bits);
            for (; i + 8 <= bits.Length; i += 8)
            {
                Vector256<uint> magnitude = Vector256.LoadUnsafe(ref first, (nuint)i) & mask;
                uint hits = Vector256.GreaterThanOrEqual(magnitude, limit).ExtractMostSignificantBits();
                while (hits != 0)
                {
                    int lane = System.Numerics.BitOperations.TrailingZeroCount(hits);
                    hits &= hits - 1;
                    Take(bits, chunk, i + lane, t, ref tiesLeft, indices, selected, ref count);
                }
            }
        }

        for (; i < bits.Length; i++)
        {
            Take(bits, chunk, i, t, ref tiesLeft, indices, selected, ref count);
        }

        return count;
    }

    private static void Take(ReadOnlySpan<uint> bits, ReadOnlySpan<float> chunk, int i, uint t, ref long tiesLeft,
        Span<int> indices, Span<float> selected, ref int count)
    {
        uint magnitude = bits[i] & 0x7FFFFFFFu;
        if (magnitude > t || (magnitude == t && tiesLeft > 0))
        {
            if (magnitude == t)
            {
                tiesLeft--;
            }

            indices[count] = i;
            selected[count] = chunk[i];
            count++;
        }
    }
}
