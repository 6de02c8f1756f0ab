using System.Diagnostics;
using System.Globalization;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>A fast table (seconds, not BenchmarkDotNet's minutes): encode and decode throughput per
/// chain, at the kernel level (span to span) and for the whole blob (stream, checksums, framing),
/// beside a memcpy of the same bytes measured interleaved in the same run, so machine load affects
/// both alike; each figure is the best of the repetitions. Throughput counts fp32 input bytes (4 per element) per second, in GB/s (10^9).</summary>
internal static class QuickBench
{
    private const double MinSeconds = 0.25;
    private const int MinReps = 3;
    private const int Warmup = 3;

    // --cpu: time with this thread's CPU time instead of the wall clock. On a machine shared with
    // other builds the wall clock charges a long operation for every time slice it lost, which
    // skews the comparison against a short memcpy; CPU time does not.
    private static bool _cpuTime;

    public static int Run(string[] args)
    {
        _cpuTime = args.Contains("--cpu");
        int inputAt = Array.IndexOf(args, "--input");
        if (inputAt >= 0 && inputAt + 1 < args.Length)
        {
            BenchInputs.Input = args[inputAt + 1];
        }

        int[] sizes = ParseSizes(args) ?? BenchInputs.Sizes;
        string[] chains = ParseChains(args) ?? BenchInputs.Chains;
        Console.WriteLine($"# quick bench: {Environment.ProcessorCount} cores, {RuntimeInfo()}; best of interleaved repetitions, {(_cpuTime ? "thread CPU time" : "wall clock")}; input {BenchInputs.Input}");
        Console.WriteLine("# GB/s of fp32 input; x = ratio to memcpy measured alongside; kernel = span->span, blob = full wire format");
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-18}{1,6}{2,9}{3,16}{4,16}{5,16}{6,16}{7,9}",
            "chain", "M", "memcpy", "enc kernel", "dec kernel", "enc blob", "dec blob", "ratio"));
        foreach (int n in sizes)
        {
            float[] input = BenchInputs.Make(n);
            float[] copy = new float[n];
            float[] output = new float[n];
            foreach (string spec in chains)
            {
                Console.WriteLine(Measure(spec, input, copy, output));
            }
        }

        return 0;
    }

    private static string Measure(string spec, float[] input, float[] copy, float[] output)
    {
        CodecChain chain = CodecChain.Parse(spec);
        int n = input.Length;
        double bytes = 4.0 * n;
        var memcpy = new List<double>();
        var encKernel = new List<double>();
        var decKernel = new List<double>();
        var encBlob = new List<double>();
        var decBlob = new List<double>();
        // Kernel columns only where the blob is the value kernel's output alone (same kernel as the
        // chain without its lossless stage otherwise).
        bool dense = chain.TopK is null && chain.Lossless == LosslessStage.None && !chain.UsesErrorFeedback;
        IValueKernel kernel = ValueKernels.Create(chain.Value);
        byte[]? packed = dense ? new byte[kernel.EncodedLength(n)] : null;
        var encoder = new PseudoGradientEncoder(chain);
        var tensors = new[] { new TensorView("w", [n], input) };
        var targets = new[] { new TensorTarget("w", [n], output) };
        var feedback = new ErrorFeedbackState();
        var blob = new MemoryStream();
        long blobBytes = encoder.Encode(tensors, blob, feedback);
        blob.Capacity = (int)Math.Min(int.MaxValue, blobBytes + 1024);

        var clock = Stopwatch.StartNew();
        for (int rep = -Warmup; rep < MinReps || clock.Elapsed.TotalSeconds < MinSeconds * 5; rep++)
        {
            if (rep == 0)
            {
                // Warm-up done (tiered JIT promoted, pools filled): forget its timings.
                foreach (List<double> list in new[] { memcpy, encKernel, decKernel, encBlob, decBlob })
                {
                    list.Clear();
                }

                clock.Restart();
            }

            memcpy.Add(Time(() => input.AsSpan().CopyTo(copy)));
            if (packed is not null)
            {
                encKernel.Add(Time(() => kernel.Encode(input, packed, default)));
                decKernel.Add(Time(() => kernel.Decode(packed, output)));
            }

            encBlob.Add(Time(() =>
            {
                blob.SetLength(0);
                encoder.Encode(tensors, blob, feedback);
            }));
            decBlob.Add(Time(() =>
            {
                blob.Position = 0;
                PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default);
            }));
            if (rep > 50)
            {
                break;
            }
        }

        double copyRate = bytes / Best(memcpy) / 1e9;
        return string.Format(CultureInfo.InvariantCulture, "{0,-18}{1,6}{2,9:F2}{3,16}{4,16}{5,16}{6,16}{7,9:F2}",
            spec, n >> 20, copyRate, Rate(encKernel, bytes, copyRate), Rate(decKernel, bytes, copyRate),
            Rate(encBlob, bytes, copyRate), Rate(decBlob, bytes, copyRate), bytes / blobBytes);
    }

    private static string Rate(List<double> seconds, double bytes, double copyRate)
    {
        if (seconds.Count == 0)
        {
            return "-";
        }

        double rate = bytes / Best(seconds) / 1e9;
        return string.Format(CultureInfo.InvariantCulture, "{0:F2} ({1:F2}x)", rate, rate / copyRate);
    }

    private static double Time(Action action)
    {
        if (_cpuTime)
        {
            double before = ThreadCpuClock.NowSeconds();
            action();
            return ThreadCpuClock.NowSeconds() - before;
        }

        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    // Best of the repetitions: on a shared machine the minimum is the run least disturbed by other
    // processes, and memcpy is measured the same way in the same loop.
    private static double Best(List<double> values) => values.Min();

    private static int[]? ParseSizes(string[] args)
    {
        int at = Array.IndexOf(args, "--sizes");
        return at >= 0 && at + 1 < args.Length
            ? args[at + 1].Split(',').Select(s => (int)(double.Parse(s, CultureInfo.InvariantCulture) * (1 << 20))).ToArray()
            : null;
    }

    private static string[]? ParseChains(string[] args)
    {
        int at = Array.IndexOf(args, "--chains");
        return at >= 0 && at + 1 < args.Length ? args[at + 1].Split(',') : null;
    }

    private static string RuntimeInfo() =>
        $".NET {Environment.Version}, AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, AVX-512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}";
}
