using Decentralized.Soak;

namespace Decentralized.Node.Tests.Status;

/// <summary>The soak verdict: a steady leak fails, bounded noise (GC sawtooth, churn) passes. Seeds appear in every failure.</summary>
public sealed class GrowthCheckTests
{
    /// <summary>30 minutes at one sample per 5 s; every series flat at its level unless <paramref name="shape"/> says otherwise.</summary>
    private static Sample[] Run(int seed, Func<double, Random, (double Rss, double Heap, double Tensors, double Connections, double Files)> shape, int samples = 360)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, samples).Select(i =>
        {
            double t = i * 5;
            var v = shape(t, random);
            return new Sample(t, "peer0", "peer", 1, v.Rss * (1 << 20), v.Heap * (1 << 20), v.Tensors, v.Connections, v.Files, i / 6, (200 + i % 7) * (double)(1 << 20), 20);
        }).ToArray();
    }

    private static (double, double, double, double, double) Healthy(double t, Random r) =>
        (400 + 20 * r.NextDouble(), 40 + 30 * ((t % 90) / 90), 90 + r.Next(0, 8), 3 + (r.NextDouble() < 0.1 ? 1 : 0), 170 + r.Next(0, 6));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BoundedNoiseAndGcSawtoothPass(int seed)
    {
        var findings = GrowthCheck.Judge("peer0", Run(seed, Healthy)).ToArray();
        Assert.Equal(Sample.Series.Length, findings.Length);
        Assert.All(findings, f => Assert.True(f.Judged && !f.Grows, $"seed {seed}: {f}"));
    }

    [Theory]
    [InlineData(1, "live_tensors")]
    [InlineData(2, "open_files")]
    [InlineData(3, "rss_bytes")]
    [InlineData(4, "managed_heap_bytes")]
    public void SteadyLeakFails(int seed, string leaking)
    {
        // One tensor / one handle per 30 s round, or a few MiB a minute: small per round, unbounded over a day.
        var samples = Run(seed, (t, r) =>
        {
            var (rss, heap, tensors, connections, files) = Healthy(t, r);
            return leaking switch
            {
                "live_tensors" => (rss, heap, tensors + t / 30, connections, files),
                "open_files" => (rss, heap, tensors, connections, files + t / 30),
                "rss_bytes" => (rss + 8 * t / 60, heap, tensors, connections, files),
                _ => (rss, heap + 4 * t / 60, tensors, connections, files),
            };
        });
        var findings = GrowthCheck.Judge("peer0", samples).ToArray();
        string series = leaking == "managed_heap_bytes" ? "managed_heap_floor" : leaking;   // the heap is judged by its floor
        Assert.True(findings.Single(f => f.Series == series).Grows, $"seed {seed}: {string.Join("\n", findings)}");
        Assert.All(findings.Where(f => f.Series != series), f => Assert.False(f.Grows, $"seed {seed}: {f}"));
    }

    [Theory]
    [InlineData(1, 60.0)]
    [InlineData(2, 110.0)]
    [InlineData(3, 140.0)]
    public void ShortRunWithASlowGcSawtoothPasses(int seed, double periodSeconds)
    {
        // 9 minutes: the judged part (after the 5-minute warm-up) holds one to four teeth of the heap's sawtooth (periods seen in a real run); only its floor counts.
        var samples = Run(seed, (t, r) =>
        {
            var (rss, _, tensors, connections, files) = Healthy(t, r);
            return (rss, 40 + 60 * ((t % periodSeconds) / periodSeconds), tensors, connections, files);
        }, samples: 108);
        var findings = GrowthCheck.Judge("peer0", samples).ToArray();
        Assert.All(findings, f => Assert.True(f.Judged && !f.Grows, $"seed {seed}, period {periodSeconds} s: {f}"));
    }

    [Fact]
    public void AWarmUpClimbThatLevelsOffPasses()
    {
        // A restarted daemon: resident and GC-committed memory climb 150 MiB over 5 minutes, then stay flat for 10.
        var samples = Run(5, (t, r) =>
        {
            var (rss, heap, tensors, connections, files) = Healthy(t, r);
            return (rss + 150 * Math.Min(t, 300) / 300, heap, tensors, connections, files);
        }, samples: 180);
        var findings = GrowthCheck.Judge("peer2", samples).ToArray();
        Assert.All(findings, f => Assert.True(f.Judged && !f.Grows, f.ToString()));
    }

    [Fact]
    public void ALifeTooShortToJudgeIsSaidSo()
    {
        var findings = GrowthCheck.Judge("joiner1", Run(6, Healthy, samples: 72)).ToArray();   // 6 minutes: 1 minute after warm-up
        Assert.All(findings, f => Assert.False(f.Judged, f.ToString()));
    }

    [Fact]
    public void TheilSenIgnoresOneOutlier()
    {
        var points = Enumerable.Range(0, 100).Select(i => ((double)i, i == 50 ? 1e9 : 2.0 * i)).ToArray();
        Assert.Equal(2.0, GrowthCheck.TheilSen(points), 6);
    }
}
