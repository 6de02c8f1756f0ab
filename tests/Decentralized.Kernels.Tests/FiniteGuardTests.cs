namespace Decentralized.Kernels.Tests;

public class FiniteGuardTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Finds_the_first_refused_value_at_any_position(int seed)
    {
        var random = new Random(seed);
        float[] refused = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, ValueRange.MaxMagnitude, -3e38f,
            BitConverter.UInt32BitsToSingle(0xFFC00001)];
        foreach (int n in new[] { 1, 7, 8, 1023, 1024, 1025, 5000 })
        {
            float[] values = TestData.Make(random, n, TestData.Shape.WideRange);
            Assert.Equal(-1, FiniteGuard.FindFirstInvalid(values));
            Assert.Equal(-1, FiniteGuard.FindFirstInvalidSum(values, values));
            for (int trial = 0; trial < 10; trial++)
            {
                int at = random.Next(n);
                float[] copy = (float[])values.Clone();
                copy[at] = refused[random.Next(refused.Length)];
                int later = random.Next(at, n);
                copy[later] = float.NaN;
                Assert.Equal(at, FiniteGuard.FindFirstInvalid(copy));
                Assert.Equal(at, FiniteGuard.FindFirstInvalidSum(copy, new float[n]));
            }
        }
    }

    [Fact]
    public void A_sum_that_overflows_is_refused_even_when_both_parts_are_fine()
    {
        float[] a = [1f, 1e30f];
        float[] b = [1f, 1e30f];
        Assert.Equal(-1, FiniteGuard.FindFirstInvalid(a));
        Assert.Equal(1, FiniteGuard.FindFirstInvalidSum(a, b));
    }

    [Fact]
    public void Largest_accepted_magnitude_is_just_below_two_to_the_hundred()
    {
        Assert.Equal(-1, FiniteGuard.FindFirstInvalid([MathF.BitDecrement(ValueRange.MaxMagnitude), float.Epsilon, -0f]));
        Assert.Equal(0, FiniteGuard.FindFirstInvalid([-ValueRange.MaxMagnitude]));
    }
}
