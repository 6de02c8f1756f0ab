namespace Decentralized.Kernels.Benchmarks;

/// <summary>Inputs shared by the quick table and the BenchmarkDotNet suite.</summary>
internal static class BenchInputs
{
    /// <summary>Chains measured: every value codec, the LZ4 variants, stochastic rounding and top-k;
    /// KERNELS_BENCH_CHAINS (comma-separated) overrides, also for BenchmarkDotNet's child processes.</summary>
    public static readonly string[] Chains = Environment.GetEnvironmentVariable("KERNELS_BENCH_CHAINS")?.Split(',')
        ?? ["fp32", "bf16", "fp16", "q8", "q8:sr", "q8+lz4", "q4", "q4:sr", "q4+lz4", "topk:0.01+q8", "topk:0.01+ef+q8"];

    /// <summary>Element counts of the issue, 1M, 16M and 64M; KERNELS_BENCH_SIZES (Mi elements,
    /// comma-separated) overrides.</summary>
    public static readonly int[] Sizes = Environment.GetEnvironmentVariable("KERNELS_BENCH_SIZES")?.Split(',')
        .Select(s => (int)(double.Parse(s, System.Globalization.CultureInfo.InvariantCulture) * (1 << 20))).ToArray()
        ?? [1 << 20, 1 << 24, 1 << 26];

    /// <summary>A pseudo-gradient-like vector: Gaussian, with a slowly varying per-region scale (as
    /// different layers have), so quantization blocks see realistic dynamic range.</summary>
    public static float[] PseudoGradient(int n, int seed = 1)
    {
        var random = new Random(seed);
        var values = new float[n];
        float scale = 1e-3f;
        for (int i = 0; i < n; i++)
        {
            if (i % 4096 == 0)
            {
                scale = 1e-3f * MathF.Pow(2f, random.Next(-3, 4));
            }

            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            values[i] = scale * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }
}
