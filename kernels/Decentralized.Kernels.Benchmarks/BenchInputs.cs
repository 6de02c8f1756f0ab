namespace Decentralized.Kernels.Benchmarks;

/// <summary>Inputs shared by the quick table and the BenchmarkDotNet suite.</summary>
internal static class BenchInputs
{
    /// <summary>Chains measured: every value codec, bf16 scales, the LZ4 and rANS (<c>ans</c>) stages,
    /// stochastic rounding and top-k; KERNELS_BENCH_CHAINS (comma-separated) overrides, also for
    /// BenchmarkDotNet's child processes.</summary>
    public static readonly string[] Chains = Environment.GetEnvironmentVariable("KERNELS_BENCH_CHAINS")?.Split(',')
        ?? ["fp32", "bf16", "fp16", "q8", "q8:sr", "q8:bf16", "q8+lz4", "q8+ans", "q4", "q4:sr", "q4:bf16", "q4+lz4", "q4+ans",
            "q4:bf16+ans", "q4+ef+ans", "topk:0.01+q8", "topk:0.01+ef+q8"];

    /// <summary>Element counts of the issue, 1M, 16M and 64M; KERNELS_BENCH_SIZES (Mi elements,
    /// comma-separated) overrides.</summary>
    public static readonly int[] Sizes = Environment.GetEnvironmentVariable("KERNELS_BENCH_SIZES")?.Split(',')
        .Select(s => (int)(double.Parse(s, System.Globalization.CultureInfo.InvariantCulture) * (1 << 20))).ToArray()
        ?? [1 << 20, 1 << 24, 1 << 26];

    /// <summary>The input distribution (<see cref="Distributions"/>): KERNELS_BENCH_INPUT, else
    /// <c>pseudo</c>. Throughput hardly depends on it; the compression ratio of <c>ans</c> does.</summary>
    public static string Input { get; set; } = Environment.GetEnvironmentVariable("KERNELS_BENCH_INPUT") ?? "pseudo";

    /// <summary>Names accepted by <see cref="Input"/>.</summary>
    public static readonly string[] Distributions = ["pseudo", "gaussian", "laplace"];

    /// <summary>n values of the <see cref="Input"/> distribution.</summary>
    public static float[] Make(int n, int seed = 1) => Input switch
    {
        "gaussian" => Sample(n, seed, random => Gaussian(random)),
        "laplace" => Sample(n, seed, random =>
        {
            double u = random.NextDouble() - 0.5;
            return -Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u));
        }),
        "pseudo" => PseudoGradient(n, seed),
        _ => throw new ArgumentException($"unknown input '{Input}'; use one of {string.Join(", ", Distributions)}"),
    };

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

            values[i] = scale * (float)Gaussian(random);
        }

        return values;
    }

    // Unit-scale samples times 1e-3, a typical pseudo-gradient magnitude.
    private static float[] Sample(int n, int seed, Func<Random, double> draw)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = 1e-3f * (float)draw(random);
        }

        return values;
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
