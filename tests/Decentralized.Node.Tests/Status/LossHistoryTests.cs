using Decentralized.Cli;

namespace Decentralized.Node.Tests.Status;

/// <summary>The status page's loss curve: bounded memory for a run of any length, always spanning the whole run.</summary>
public sealed class LossHistoryTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(511)]
    [InlineData(512)]
    [InlineData(100_000)]
    public void StaysBoundedAndSpansTheRun(int steps)
    {
        var history = new LossHistory();
        for (long step = 1; step <= steps; step++) history.Add(step, 10.0 / step);
        var points = history.Points();
        Assert.InRange(points.Length, Math.Min(steps, LossHistory.PointsMax / 2 - 1), LossHistory.PointsMax - 1);
        Assert.True(points[0].Step <= Math.Max(1, steps / 256), $"{steps} steps: the curve starts at step {points[0].Step}");
        Assert.True(points[^1].Step > steps - steps / 128 - 2, $"{steps} steps: the curve ends at step {points[^1].Step}");
        Assert.True(points.Zip(points.Skip(1)).All(p => p.First.Step < p.Second.Step), "steps out of order");
    }

    [Fact]
    public void NonFiniteLossesAreNotDrawn()
    {
        var history = new LossHistory();
        history.Add(1, 3.0);
        history.Add(2, double.NaN);
        history.Add(3, double.PositiveInfinity);
        history.Add(4, 2.5);
        Assert.Equal([1L, 4L], history.Points().Select(p => p.Step));
    }
}
