using Decentralized.Node.Training;

namespace Decentralized.Node.Tests;

/// <summary>The inner rate a user asks for: linear warm-up to the peak, cosine down to the chosen floor at the last step.</summary>
public sealed class InnerScheduleTests
{
    [Theory]
    [InlineData(0.1)]
    [InlineData(0.0)]
    public void WarmsUpToThePeakAndEndsOnTheFloor(double floor)
    {
        var inner = new InnerOptions(LearningRate: 2e-3, WarmupSteps: 10, TotalSteps: 110, MinLearningRateRatio: floor).Validate();

        Assert.Equal(2e-4, inner.LearningRateAt(0), 12);
        Assert.Equal(2e-3, inner.LearningRateAt(9), 12);
        Assert.Equal(2e-3, inner.LearningRateAt(10), 12);
        Assert.Equal(2e-3 * (floor + (1 - floor) * 0.5), inner.LearningRateAt(60), 12);
        Assert.Equal(2e-3 * floor, inner.LearningRateAt(110), 12);
        for (long step = 11; step <= 110; step++)
            Assert.True(inner.LearningRateAt(step) < inner.LearningRateAt(step - 1), $"rate rose at step {step}");
    }
}
