using Decentralized.Cli;

namespace Decentralized.Node.Tests.Status;

/// <summary>The per-peer throughput the status page shows: measured over the last 10 s, never negative, forgetting gone peers.</summary>
public sealed class TrafficMeterTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void SteadyLinkReadsItsRate()
    {
        var meter = new TrafficMeter();
        for (int t = 0; t <= 30; t++) meter.Sample(S(t), [("a", 1000L * t, 250L * t)]);
        var (inRate, outRate) = meter.Rate("a");
        Assert.Equal(1000, inRate, 6);
        Assert.Equal(250, outRate, 6);
    }

    [Fact]
    public void StalledLinkDropsToZeroWithinTheWindow()
    {
        var meter = new TrafficMeter();
        for (int t = 0; t <= 20; t++) meter.Sample(S(t), [("a", 1000L * t, 0L)]);
        for (int t = 21; t <= 20 + (int)TrafficMeter.Window.TotalSeconds; t++) meter.Sample(S(t), [("a", 20_000L, 0L)]);
        Assert.Equal(0, meter.Rate("a").InPerSecond);
    }

    [Fact]
    public void BurstIsAveragedOverTheWindowNotLost()
    {
        var meter = new TrafficMeter();
        meter.Sample(S(0), [("a", 0L, 0L)]);
        meter.Sample(S(1), [("a", 0L, 1_000_000L)]);   // a 1 MB update went out in the first second
        for (int t = 2; t <= 5; t++) meter.Sample(S(t), [("a", 0L, 1_000_000L)]);
        Assert.Equal(200_000, meter.Rate("a").OutPerSecond, 6);   // 1 MB over the 5 s sampled so far
    }

    [Fact]
    public void ReconnectNeverReadsNegativeAndGonePeersAreForgotten()
    {
        var meter = new TrafficMeter();
        meter.Sample(S(0), [("a", 5000L, 5000L), ("b", 0L, 0L)]);
        meter.Sample(S(1), [("a", 100L, 100L)]);   // a reconnected (counters restarted); b left
        Assert.True(meter.Rate("a").InPerSecond >= 0);
        Assert.Equal((0.0, 0.0), meter.Rate("b"));
    }
}
