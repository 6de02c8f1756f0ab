using System.Diagnostics;
using System.Globalization;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>
/// SparseLoCo's payload kernels on one core (<c>--sparse [Mi elements]</c>): encode (tile top-k, 2-bit codes,
/// positions, the residual update) and decode (validation and scatter) of a square fp32 matrix of 64 × 64 tiles at
/// k = 64, beside a memcpy of the same bytes measured in the same loop; best of the repetitions, GB/s of fp32 input.
/// </summary>
internal static class SparseBench
{
    public static int Run(int elements)
    {
        int side = 1 << (System.Numerics.BitOperations.Log2((uint)elements) / 2);
        var layout = TileLayout.Of([[side, elements / side]]);
        float[] input = BenchInputs.Make((int)layout.Count);
        float[] accumulator = new float[input.Length], copy = new float[input.Length], decoded = new float[input.Length];
        bool[] sent = new bool[input.Length];
        Console.WriteLine($"# sparseloco kernels: {side}x{elements / side} fp32, 64x64 tiles, k 64, one thread; best of repetitions in thread CPU time; GB/s of fp32 input");
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-10}{1,9}{2,16}{3,16}{4,9}", "positions", "memcpy", "encode", "decode", "ratio"));
        foreach (var coding in new[] { SparseIndexCoding.Fixed12, SparseIndexCoding.Rice })
        {
            double memcpy = double.MaxValue, encode = double.MaxValue, decode = double.MaxValue;
            byte[] blob = [];
            var clock = Stopwatch.StartNew();
            for (int rep = 0; rep < 3 || (clock.Elapsed.TotalSeconds < 2 && rep < 40); rep++)
            {
                input.AsSpan().CopyTo(accumulator);   // encode consumes its accumulator: refill it outside the timing
                memcpy = Math.Min(memcpy, Time(() => input.AsSpan().CopyTo(copy)));
                encode = Math.Min(encode, Time(() => blob = SparseLoCoCodec.Encode(accumulator, layout, 64, coding)));
                decode = Math.Min(decode, Time(() => SparseLoCoCodec.DecodeInto(blob, layout, decoded, sent)));
            }

            double bytes = 4.0 * input.Length, copyRate = bytes / memcpy / 1e9;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-10}{1,9:F2}{2,16}{3,16}{4,9:F0}", coding, copyRate,
                Rate(bytes / encode / 1e9, copyRate), Rate(bytes / decode / 1e9, copyRate), bytes / blob.Length));
        }

        return 0;
    }

    private static string Rate(double rate, double copyRate) => string.Format(CultureInfo.InvariantCulture, "{0:F2} ({1:F2}x)", rate, rate / copyRate);

    private static double Time(Action action)
    {
        // Thread CPU time: on a machine shared with other builds the wall clock charges an operation for every time
        // slice it lost (QuickBench's --cpu); memcpy is timed the same way.
        double before = ThreadCpuClock.NowSeconds();
        action();
        return ThreadCpuClock.NowSeconds() - before;
    }
}
