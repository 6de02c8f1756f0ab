using Decentralized.Tests.Fuzzing;

namespace Decentralized.Kernels.Tests;

/// <summary>The SparseLoCo decoder under the shared <see cref="Fuzzer"/>: every input decodes or is a <see cref="CodecException"/>, quickly.</summary>
public class SparseLoCoFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Tiles of 64 x 16, a 1-D run of 30 (kept whole at k >= 30) and a prime side, as a model's layout mixes them.
    private static readonly TileLayout Layout = TileLayout.Of([[64, 48], [30], [5, 7]]);

    [Fact]
    public void Random_and_mutated_sparse_blobs_never_crash_or_hang()
    {
        var report = Fuzzer.CheckShort(Target(), output);
        Assert.True(report.Refused.Count >= 4, report.ToString());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Sparse_blobs_at_scale() => Fuzzer.CheckAtScale(Target(), output);

    internal static FuzzTarget Target()
    {
        var random = new Random(2301);
        var seeds = new List<byte[]>();
        foreach (int k in new[] { 2, 8, 64 })
        foreach (var coding in new[] { SparseIndexCoding.Fixed12, SparseIndexCoding.Rice })
        {
            var e = TestData.Make(random, (int)Layout.Count, TestData.AllShapes[random.Next(TestData.AllShapes.Length)]);
            seeds.Add(SparseLoCoCodec.Encode(e, Layout, k, coding));
        }

        return new FuzzTarget("sparseloco blob", seeds,
            blob => SparseLoCoCodec.DecodeInto(blob, Layout, new float[Layout.Count], new bool[Layout.Count]), typeof(CodecException))
        {
            Label = e => ((CodecException)e).Code.ToString(),
        };
    }
}
