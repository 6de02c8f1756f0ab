using System.Diagnostics;
using System.IO.Hashing;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>--pieces: times the parts of a blob encode separately (diagnostics for tuning).</summary>
internal static class PiecesBench
{
    public static int Run(int n)
    {
        float[] input = BenchInputs.Make(n);
        float[] copy = new float[n];
        var q8 = new Int8BlockKernel(64, false);
        var q4 = new Int4BlockKernel(64, false);
        byte[] p8 = new byte[q8.EncodedLength(n)];
        byte[] p4 = new byte[q4.EncodedLength(n)];
        var sink = new MemoryStream(p8.Length + 100);
        var encoder = new PseudoGradientEncoder(CodecChain.Parse("q8"));
        var tensors = new[] { new TensorView("w", [n], input) };
        var blob = new MemoryStream();
        encoder.Encode(tensors, blob);
        var targets = new[] { new TensorTarget("w", [n], copy) };
        var parts = new (string Name, Action Body)[]
        {
            ("memcpy", () => input.AsSpan().CopyTo(copy)),
            ("finite guard", () => FiniteGuard.FindFirstInvalid(input)),
            ("q8 encode", () => q8.Encode(input, p8, default)),
            ("q8 decode", () => q8.Decode(p8, copy)),
            ("q4 encode", () => q4.Encode(input, p4, default)),
            ("q4 decode", () => q4.Decode(p4, copy)),
            ("xxh3 of q8 bytes", () => XxHash3.HashToUInt64(p8)),
            ("memstream write q8 bytes", () => { sink.SetLength(0); sink.Write(p8); }),
            ("xxh3 seeded, 64K pieces", () => { for (int at = 0; at < p8.Length; at += 69632) { XxHash3.HashToUInt64(p8.AsSpan(at, Math.Min(69632, p8.Length - at)), 12345); } }),
            ("q8 encode, 64K chunks", () => { for (int at = 0; at < n; at += 65536) { q8.Encode(input.AsSpan(at, 65536), p8.AsSpan(at / 64 * 68, 69632), default); } }),
            ("finite+q8 64K chunks", () => { FiniteGuard.FindFirstInvalid(input); for (int at = 0; at < n; at += 65536) { q8.Encode(input.AsSpan(at, 65536), p8.AsSpan(at / 64 * 68, 69632), default); } }),
            ("topk select 1%", () => TopKSelector.Select(input, n / 100)),
            ("q8 blob encode", () => { blob.SetLength(0); encoder.Encode(tensors, blob); }),
            ("q8 blob decode", () => { blob.Position = 0; PseudoGradientDecoder.DecodeInto(blob, targets, DecoderLimits.Default); }),
        };
        var times = parts.ToDictionary(p => p.Name, _ => new List<double>());
        var cpu = parts.ToDictionary(p => p.Name, _ => new List<double>());
        var process = System.Diagnostics.Process.GetCurrentProcess();
        for (int rep = 0; rep < 15; rep++)
        {
            foreach ((string name, Action body) in parts)
            {
                process.Refresh();
                TimeSpan cpuStart = process.TotalProcessorTime;
                long start = Stopwatch.GetTimestamp();
                body();
                times[name].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                process.Refresh();
                cpu[name].Add((process.TotalProcessorTime - cpuStart).TotalMilliseconds);
            }
        }

        foreach ((string name, List<double> t) in times)
        {
            double best = t.Min();
            double cpuMedian = cpu[name].Order().ElementAt(t.Count / 2);
            Console.WriteLine($"{name,-28}{best,8:F2} ms best wall {4.0 * n / best / 1e6,8:F2} GB/s(fp32-equiv)   {cpuMedian,8:F2} ms median cpu");
        }

        return 0;
    }
}
