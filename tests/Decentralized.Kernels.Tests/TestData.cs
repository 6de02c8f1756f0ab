namespace Decentralized.Kernels.Tests;

/// <summary>Seeded generators of the inputs the property tests sweep.</summary>
internal static class TestData
{
    public enum Shape
    {
        Normal,
        WithZeros,
        Subnormal,
        WideRange,
        AllZero,
        Constant,
        Ties,
        MixedBlocks,
    }

    public static readonly Shape[] AllShapes = Enum.GetValues<Shape>();

    /// <summary>Lengths around block and group boundaries, plus a random one.</summary>
    public static int[] Lengths(Random random) =>
        [0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 4097, random.Next(1, 20000)];

    public static float[] Make(Random random, int n, Shape shape)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = shape switch
            {
                Shape.Normal => Gaussian(random) * 0.01f,
                Shape.WithZeros => random.Next(3) == 0 ? 0f : Gaussian(random),
                Shape.Subnormal => BitConverter.UInt32BitsToSingle((uint)random.Next(1, 0x007FFFFF) | (random.Next(2) == 0 ? 0x80000000u : 0u)),
                Shape.WideRange => Gaussian(random) * MathF.Pow(2f, random.Next(-120, 90)),
                Shape.AllZero => random.Next(2) == 0 ? 0f : -0f,
                Shape.Constant => 0.375f,
                // Runs of 64 that are zero, below the 2^-100 zero-block threshold, or normal: blocks
                // of one batch of eight take different paths.
                Shape.MixedBlocks => ((i / 64) % 3) switch
                {
                    0 => 0f,
                    1 => Gaussian(random) * 1e-32f,
                    _ => Gaussian(random),
                },
                _ => random.Next(-4, 5) * 0.25f,
            };
        }

        return values;
    }

    public static float Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    public static string Describe(int seed, int n, Shape shape, string codec) => $"seed {seed}, n {n}, {shape}, {codec}";
}
