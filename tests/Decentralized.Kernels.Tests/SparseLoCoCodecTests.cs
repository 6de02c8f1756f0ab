using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels.Tests;

public class SparseLoCoCodecTests
{
    /// <summary>Shapes around the tile rules: 64-multiples, sides with small or prime divisors, 1-D runs, empty and scalar tensors.</summary>
    private static readonly int[][][] Layouts =
    [
        [[128, 192]],
        [[96, 40], [100], [3, 5, 8]],
        [[7, 13], [0, 5], [], [65]],
        [[64, 320]],
    ];

    public static TheoryData<int, SparseIndexCoding> Cases()
    {
        var data = new TheoryData<int, SparseIndexCoding>();
        foreach (int seed in new[] { 1, 2, 3 })
        foreach (var coding in new[] { SparseIndexCoding.Fixed12, SparseIndexCoding.Rice })
            data.Add(seed, coding);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_kernels_match_the_scalar_reference_bit_for_bit(int seed, SparseIndexCoding coding)
    {
        var random = new Random(seed);
        foreach (var shapes in Layouts)
        foreach (var shape in TestData.AllShapes)
        foreach (int k in new[] { 3, 64, 4096 })
        {
            var layout = TileLayout.Of(shapes);
            var original = TestData.Make(random, (int)layout.Count, shape);
            string where = $"seed {seed}, {coding}, {shape}, k {k}, layout [{string.Join(", ", shapes.Select(s => "(" + string.Join("x", s) + ")"))}]";
            float[] fast = (float[])original.Clone(), reference = (float[])original.Clone();
            byte[] fastBlob = SparseLoCoCodec.Encode(fast, layout, k, coding);
            byte[] referenceBlob = SparseLoCoReferenceCodec.Encode(reference, layout, k, coding);
            Assert.True(fastBlob.AsSpan().SequenceEqual(referenceBlob), $"blobs differ ({fastBlob.Length} vs {referenceBlob.Length} bytes): {where}");
            Assert.True(fast.AsSpan().SequenceEqual(reference), $"residuals differ: {where}");

            float[] decoded = new float[layout.Count], referenceDecoded = new float[layout.Count];
            bool[] sent = new bool[layout.Count], referenceSent = new bool[layout.Count];
            SparseLoCoCodec.DecodeInto(fastBlob, layout, decoded, sent);
            SparseLoCoReferenceCodec.DecodeInto(referenceBlob, layout, referenceDecoded, referenceSent);
            Assert.True(decoded.AsSpan().SequenceEqual(referenceDecoded) && sent.AsSpan().SequenceEqual(referenceSent), $"decodes differ: {where}");
            AssertResidualIsWhatWasNotSent(original, fast, decoded, sent, layout, k, where);
        }
    }

    private static void AssertResidualIsWhatWasNotSent(float[] original, float[] residual, float[] decoded, bool[] sent, TileLayout layout, int k, string where)
    {
        Assert.True(layout.Tensors.Sum(t => t.Selected(k)) == sent.Count(s => s), $"sent count: {where}");
        for (int i = 0; i < original.Length; i++)
        {
            float expected = sent[i] ? original[i] - decoded[i] : original[i];
            Assert.True(expected.Equals(residual[i]), $"residual[{i}] {residual[i]}, expected {expected}: {where}");
            Assert.True(sent[i] || decoded[i] == 0, $"unsent coordinate {i} decoded to {decoded[i]}: {where}");
        }

        // Within each tile nothing unsent is larger in magnitude than something sent.
        foreach (var t in layout.Tensors)
        for (int tile = 0; tile < t.TileCount; tile++)
        {
            var flat = Enumerable.Range(0, t.TileSize).Select(p => (int)t.Offset + t.FlatIndex(tile, p)).ToArray();
            float smallestSent = flat.Where(i => sent[i]).Select(i => Math.Abs(original[i])).DefaultIfEmpty(float.PositiveInfinity).Min();
            Assert.True(flat.All(i => sent[i] || Math.Abs(original[i]) <= smallestSent), $"tile {tile} dropped a larger value: {where}");
        }
    }

    [Fact]
    public void Rice_positions_come_near_the_information_floor_and_12_bit_ones_cost_12()
    {
        var random = new Random(7);
        var layout = TileLayout.Of([[256, 256]]);   // 16 tiles of 64 x 64, 64 kept each
        var e = TestData.Make(random, (int)layout.Count, TestData.Shape.Normal);
        int n = layout.Tensors[0].Selected(64);
        int fixedBytes = SparseLoCoCodec.Encode((float[])e.Clone(), layout, 64, SparseIndexCoding.Fixed12).Length;
        int riceBytes = SparseLoCoCodec.Encode((float[])e.Clone(), layout, 64, SparseIndexCoding.Rice).Length;
        int overhead = SparseLoCoCodec.HeaderBytes + SparseLoCoCodec.TensorHeaderBytes + n / 4;
        double fixedBits = 8.0 * (fixedBytes - overhead) / n, riceBits = 8.0 * (riceBytes - overhead) / n;
        Assert.Equal(12.0, fixedBits);
        // log2 C(4096, 64) / 64 = 7.4 bits; Rice with b = 6 on geometric gaps lands about 0.2 above it.
        Assert.InRange(riceBits, 7.3, 7.8);
        double ratio = 4.0 * layout.Count / riceBytes;
        Assert.True(ratio > 200, $"{ratio:F0}x smaller than fp32 with Rice positions ({riceBits:F2} bits each)");
    }

    [Fact]
    public void A_blob_is_refused_with_a_typed_error_for_every_kind_of_damage()
    {
        var layout = TileLayout.Of([[64, 64], [10]]);
        var e = TestData.Make(new Random(3), (int)layout.Count, TestData.Shape.Normal);
        byte[] good = SparseLoCoCodec.Encode((float[])e.Clone(), layout, 64, SparseIndexCoding.Fixed12);
        var dest = new float[layout.Count];
        CodecErrorCode Refusal(byte[] blob, TileLayout? other = null) =>
            Assert.Throws<CodecException>(() => SparseLoCoCodec.DecodeInto(blob, other ?? layout, new float[(other ?? layout).Count], [])).Code;

        Assert.Equal(CodecErrorCode.Truncated, Refusal(good[..^1]));
        Assert.Equal(CodecErrorCode.Malformed, Refusal([.. good, 0]));
        Assert.Equal(CodecErrorCode.BadMagic, Refusal(Mutate(good, 0, 0x00)));
        Assert.Equal(CodecErrorCode.UnsupportedVersion, Refusal(Mutate(good, 2, 9)));
        Assert.Equal(CodecErrorCode.TargetMismatch, Refusal(good, TileLayout.Of([[64, 64]])));
        Assert.Equal(CodecErrorCode.TargetMismatch, Refusal(good, TileLayout.Of([[64, 32], [10]])));
        // μ of the first tensor set to NaN, then to a value whose sum with the lookup overflows.
        Assert.Equal(CodecErrorCode.NonFiniteDecoded, Refusal(WithFloat(good, 12 + 4, float.NaN)));
        Assert.Equal(CodecErrorCode.NonFiniteDecoded, Refusal(WithFloat(WithFloat(good, 12 + 4, float.MaxValue), 12 + 8, float.MaxValue)));
        // The second 12-bit position made equal to the first (a duplicate), then one past the tile.
        int positions = 12 + 28 + 64 / 4;
        var duplicate = (byte[])good.Clone();
        int first = good[positions] | ((good[positions + 1] & 0x0F) << 8);
        duplicate[positions + 1] = (byte)((good[positions + 1] & 0x0F) | ((first & 0x0F) << 4));
        duplicate[positions + 2] = (byte)(first >> 4);
        Assert.Equal(CodecErrorCode.Malformed, Refusal(duplicate));
        Assert.Equal(CodecErrorCode.Malformed, Refusal(Mutate(Mutate(good, positions + 1, 0xFF), positions + 2, 0xFF)));
        SparseLoCoCodec.DecodeInto(good, layout, dest, []);
        Assert.Contains(dest, v => v != 0);
    }

    [Fact]
    public void Encoding_refuses_a_non_finite_accumulator_and_leaves_it_untouched()
    {
        var layout = TileLayout.Of([[8, 8]]);
        var e = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        e[5] = float.NaN;
        var before = (float[])e.Clone();
        var error = Assert.Throws<CodecException>(() => SparseLoCoCodec.Encode(e, layout, 4, SparseIndexCoding.Rice));
        Assert.Equal(CodecErrorCode.NonFiniteInput, error.Code);
        Assert.Equal(before, e);
    }

    [Theory]
    [InlineData(new[] { 4096, 1024 }, 64, 64, 64)]
    [InlineData(new[] { 96, 40 }, 48, 40, 64)]
    [InlineData(new[] { 50257 }, 1, 29, 29)]   // 29 x 1733
    [InlineData(new[] { 7, 13 }, 7, 13, 64)]
    public void Tiles_follow_the_largest_divisors_at_most_64(int[] shape, int h, int w, int kept)
    {
        var t = TileLayout.Of([shape]).Tensors[0];
        Assert.Equal((h, w), (t.TileRows, t.TileCols));
        Assert.Equal(Math.Min(kept, h * w), t.KeptPerTile(64));
        Assert.Equal(2, TileLayout.KeptPerTile(3, 4096));
        Assert.Equal(4, TileLayout.KeptPerTile(5, 4096));
    }

    private static byte[] Mutate(byte[] blob, int at, byte value)
    {
        var copy = (byte[])blob.Clone();
        copy[at] = value;
        return copy;
    }

    private static byte[] WithFloat(byte[] blob, int at, float value)
    {
        var copy = (byte[])blob.Clone();
        BitConverter.GetBytes(value).CopyTo(copy, at);
        return copy;
    }
}
