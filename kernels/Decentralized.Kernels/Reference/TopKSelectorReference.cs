namespace Decentralized.Kernels.Reference;

/// <summary>Obviously-correct top-k: sort every index by (|x| descending, index ascending) and keep
/// the first k. O(n log n) time and O(n) memory; tests only.</summary>
public static class TopKSelectorReference
{
    /// <summary>Same contract as <see cref="TopKSelector.Select"/>.</summary>
    public static TopKThreshold Select(ReadOnlySpan<float> values, int k)
    {
        k = Math.Min(k, values.Length);
        if (k <= 0)
        {
            return TopKThreshold.None;
        }

        uint[] magnitudes = new uint[values.Length];
        int[] order = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            magnitudes[i] = TopKThreshold.MagnitudeOf(values[i]);
            order[i] = i;
        }

        Array.Sort(order, (a, b) => magnitudes[a] != magnitudes[b] ? magnitudes[b].CompareTo(magnitudes[a]) : a.CompareTo(b));
        uint threshold = magnitudes[order[k - 1]];
        long ties = 0;
        for (int j = 0; j < k; j++)
        {
            if (magnitudes[order[j]] == threshold)
            {
                ties++;
            }
        }

        return new TopKThreshold(threshold, ties);
    }

    /// <summary>Same contract as <see cref="TopKSelector.Gather"/>.</summary>
    public static int Gather(ReadOnlySpan<float> chunk, TopKThreshold threshold, ref long tiesLeft,
        Span<int> indices, Span<float> selected)
    {
        int count = 0;
        for (int i = 0; i < chunk.Length; i++)
        {
            uint magnitude = TopKThreshold.MagnitudeOf(chunk[i]);
            bool keep = threshold.MagnitudeBits != uint.MaxValue
                && (magnitude > threshold.MagnitudeBits || (magnitude == threshold.MagnitudeBits && tiesLeft > 0));
            if (!keep)
            {
                continue;
            }

            if (magnitude == threshold.MagnitudeBits)
            {
                tiesLeft--;
            }

            indices[count] = i;
            selected[count] = chunk[i];
            count++;
        }

        return count;
    }
}
