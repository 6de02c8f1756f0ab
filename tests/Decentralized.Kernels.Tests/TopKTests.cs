using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels.Tests;

public class TopKTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Radix_select_matches_sorting_reference(int seed)
    {
        var random = new Random(seed);
        foreach (int n in TestData.Lengths(random))
        {
            foreach (TestData.Shape shape in TestData.AllShapes)
            {
                float[] values = TestData.Make(random, n, shape);
                foreach (int k in new[] { 0, 1, n / 100, n / 3, n - 1, n, n + 5, random.Next(0, n + 1) })
                {
                    string where = $"{TestData.Describe(seed, n, shape, "topk")}, k {k}";
                    TopKThreshold fast = TopKSelector.Select(values, k);
                    TopKThreshold reference = TopKSelectorReference.Select(values, k);
                    Assert.True(fast == reference, $"{fast} vs {reference}: {where}");
                    AssertGatherAgrees(values, fast, Math.Clamp(k, 0, n), where);
                }
            }
        }
    }

    private static void AssertGatherAgrees(float[] values, TopKThreshold threshold, int k, string where)
    {
        // Gather in uneven chunks, carrying ties across, and compare with the reference.
        var fastIndices = new List<int>();
        var referenceIndices = new List<int>();
        long fastTies = threshold.TiesToTake;
        long referenceTies = threshold.TiesToTake;
        int[] indices = new int[values.Length];
        float[] selected = new float[values.Length];
        for (int start = 0; start < values.Length; start += 37)
        {
            ReadOnlySpan<float> chunk = values.AsSpan(start, Math.Min(37, values.Length - start));
            int count = TopKSelector.Gather(chunk, threshold, ref fastTies, indices, selected);
            for (int j = 0; j < count; j++)
            {
                Assert.Equal(values[start + indices[j]], selected[j]);
                fastIndices.Add(start + indices[j]);
            }

            count = TopKSelectorReference.Gather(chunk, threshold, ref referenceTies, indices, selected);
            referenceIndices.AddRange(indices.Take(count).Select(i => start + i));
        }

        Assert.True(fastIndices.SequenceEqual(referenceIndices), $"gathered sets differ: {where}");
        Assert.True(k == fastIndices.Count, $"kept {fastIndices.Count}, wanted {k}: {where}");
        float smallestKept = fastIndices.Count == 0 ? float.PositiveInfinity : fastIndices.Min(i => Math.Abs(values[i]));
        var kept = fastIndices.ToHashSet();
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(kept.Contains(i) || Math.Abs(values[i]) <= smallestKept, $"element {i} ({values[i]}) dropped while a smaller one was kept: {where}");
        }
    }

    [Fact]
    public void Ties_are_taken_in_index_order()
    {
        float[] values = [1f, -2f, 2f, 0.5f, 2f, -2f];
        TopKThreshold threshold = TopKSelector.Select(values, 3);
        long ties = threshold.TiesToTake;
        int[] indices = new int[6];
        float[] selected = new float[6];
        int count = TopKSelector.Gather(values, threshold, ref ties, indices, selected);
        Assert.Equal([1, 2, 4], indices.Take(count));
    }

    [Theory]
    [InlineData(0, 100)]
    [InlineData(1, 100)]
    [InlineData(5, 100)]
    [InlineData(13, 100)]
    [InlineData(40, 100)]
    [InlineData(100, 100)]
    [InlineData(3, 65536)]
    public void Index_encoding_round_trips_and_picks_the_smaller_form(int kept, int n)
    {
        var random = new Random(kept * 7 + n);
        int[] indices = Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(kept).Order().ToArray();
        (byte mode, int length) = SparseIndexCodec.Choose(indices, n);
        Assert.Equal(Math.Min(SparseIndexCodec.VarintLength(indices), SparseIndexCodec.BitmapLength(n)), length);
        byte[] bytes = new byte[length];
        SparseIndexCodec.Write(mode, indices, n, bytes);
        int[] back = new int[kept];
        SparseIndexCodec.Read(mode, bytes, n, back);
        Assert.Equal(indices, back);
    }

    [Theory]
    [InlineData(SparseIndexCodec.DeltaVarint, new byte[] { 5, 200 }, 10, 2)]        // second varint truncated
    [InlineData(SparseIndexCodec.DeltaVarint, new byte[] { 9, 0 }, 10, 2)]          // index 10 out of range
    [InlineData(SparseIndexCodec.DeltaVarint, new byte[] { 1, 1, 1 }, 10, 2)]       // trailing byte
    [InlineData(SparseIndexCodec.DeltaVarint, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x7F }, 10, 1)] // overflow
    [InlineData(SparseIndexCodec.Bitmap, new byte[] { 0x03, 0x04 }, 10, 2)]          // 3 bits for 2 indices
    [InlineData(SparseIndexCodec.Bitmap, new byte[] { 0x01, 0x80 }, 10, 2)]          // padding bit set
    [InlineData(SparseIndexCodec.Bitmap, new byte[] { 0x01 }, 10, 1)]                // wrong length
    [InlineData(7, new byte[] { 0x01 }, 10, 1)]                                      // unknown mode
    public void Malformed_indices_are_refused(byte mode, byte[] bytes, int n, int count)
    {
        var error = Assert.Throws<CodecException>(() => SparseIndexCodec.Read(mode, bytes, n, new int[count]));
        Assert.Equal(CodecErrorCode.Malformed, error.Code);
    }
}
