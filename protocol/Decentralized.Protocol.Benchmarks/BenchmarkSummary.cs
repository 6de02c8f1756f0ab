using System.Globalization;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>
/// The lines under the table: the cipher's own rates, CPU per run, the ceiling the cipher puts on any Noise stream, and
/// the issue's two goals (C#&lt;-&gt;C# at least 50% of plain TCP and at least 3x js&lt;-&gt;js) read off the rows.
/// </summary>
internal static class BenchmarkSummary
{
    /// <summary>The table: each rate also as a share of plain TCP's (the first row) and a multiple of js&lt;-&gt;js's.</summary>
    public static void PrintTable(IReadOnlyList<BenchmarkResult> results)
    {
        var plain = results[0];
        var jsToJs = results.FirstOrDefault(r => r.Pair.StartsWith("js <-> js", StringComparison.Ordinal));
        Console.WriteLine();
        Console.WriteLine("\"% TCP\": the row's rate over plain TCP's; \"x js\": over js<->js's (the issue's goals: C#<->C# >= 50% TCP and >= 3x js).");
        Console.WriteLine($"| {"pair",-28} | {"one-way MB/s",12} | {"% TCP",6} | {"x js",5} | {"echo MB/s",9} | {"% TCP",6} | {"x js",5} | {"dial→stream ms",14} | note");
        Console.WriteLine($"|{new string('-', 30)}|{new string('-', 14)}|{new string('-', 8)}|{new string('-', 7)}|{new string('-', 11)}|{new string('-', 8)}|{new string('-', 7)}|{new string('-', 16)}|------");
        foreach (var r in results)
        {
            Console.WriteLine($"| {r.Pair,-28} | {Format(r.OneWayMBps),12} | {Percent(r.OneWayMBps, plain.OneWayMBps),6} | {Times(r.OneWayMBps, jsToJs?.OneWayMBps),5} " +
                $"| {Format(r.EchoMBps),9} | {Percent(r.EchoMBps, plain.EchoMBps),6} | {Times(r.EchoMBps, jsToJs?.EchoMBps),5} | {Format(r.DialToStreamMs),14} | {r.Note}");
        }
    }

    /// <summary><paramref name="results"/> starts with plain TCP then C#&lt;-&gt;C#; <paramref name="bytes"/> is one run's payload.</summary>
    public static void Print(IReadOnlyList<BenchmarkResult> results, long bytes, double encrypt, double decrypt, double cipherAll)
    {
        var plain = results[0];
        var csharp = results[1];
        var jsToJs = results.FirstOrDefault(r => r.Pair.StartsWith("js <-> js", StringComparison.Ordinal));
        Console.WriteLine();
        var sealAndOpen = CipherBenchmark.SealAndOpen(encrypt, decrypt);
        Console.WriteLine($"Cipher (our NoiseCipherState, full 65,519-byte frames, best uncontended windows): seal {encrypt:F0} MB/s, open {decrypt:F0} MB/s " +
            $"on one core, so {sealAndOpen:F0} MB/s sealed and opened; {Math.Min(2, Environment.ProcessorCount)} threads at once managed {cipherAll:F0} MB/s " +
            $"({cipherAll / sealAndOpen:F1} cores' worth for this process right now).");
        var cipherCpuMs = bytes / 1e6 / sealAndOpen * 1000;
        double? oneCore = null;
        if (plain.OneWayCpuMs is { } plainCpu && csharp.OneWayCpuMs is { } csharpCpu)
        {
            // CPU time is steadier than wall time on a shared machine: it shows what the stack costs beyond the unavoidable.
            oneCore = bytes / 1e3 / (cipherCpuMs + plainCpu);
            Console.WriteLine($"CPU per one-way run (this process, both ends): plain TCP {plainCpu:F0} ms; C#<->C# {csharpCpu:F0} ms = cipher {cipherCpuMs:F0} ms " +
                $"+ plain TCP's {plainCpu:F0} ms + {csharpCpu - cipherCpuMs - plainCpu:F0} ms of framing, copies and scheduling " +
                $"({Percent(cipherCpuMs + plainCpu, csharpCpu)} of its CPU goes to the cipher and the sockets).");
        }
        if (plain.OneWayMBps is > 0 && csharp.OneWayMBps is > 0)
        {
            double tcp = plain.OneWayMBps.Value, ours = csharp.OneWayMBps.Value;
            double perSide = CipherBenchmark.Ceiling(tcp, encrypt, decrypt);
            var oneCoreCeiling = oneCore is { } c
                ? $"; {c:F0} MB/s ({Percent(c, tcp)}) on one core (plain TCP's CPU plus the cipher for every byte)"
                : "";
            var oneCoreShare = oneCore is { } d ? $", {Percent(ours, d)} of the one-core one" : "";
            Console.WriteLine($"Ceiling of any Noise stream here: {perSide:F0} MB/s ({Percent(perSide, tcp)} of plain TCP) even with each side on its own " +
                $"free core, each paying its socket copy and its half of the cipher{oneCoreCeiling}. " +
                $"C#<->C# one-way reaches {Percent(ours, perSide)} of the two-core ceiling{oneCoreShare}.");
            Console.WriteLine($"Goal C#<->C# >= 50% of plain TCP: one-way {Percent(ours, tcp)}, echo {Percent(csharp.EchoMBps, plain.EchoMBps)}: " +
                (ours >= tcp / 2 ? "met." : tcp / 2 > perSide
                    ? $"not met, and out of reach here: 50% is {tcp / 2:F0} MB/s, above the {perSide:F0} MB/s the cipher allows even on two free cores."
                    : $"not met ({tcp / 2:F0} MB/s needed, the cipher allows {perSide:F0} on two free cores)."));
        }
        if (csharp.OneWayMBps is > 0 && jsToJs?.OneWayMBps is > 0)
        {
            var ratio = csharp.OneWayMBps.Value / jsToJs.OneWayMBps.Value;
            Console.WriteLine($"Goal C#<->C# >= 3x js<->js: one-way {ratio:F1}x, echo {Times(csharp.EchoMBps, jsToJs.EchoMBps).Trim()}: {(ratio >= 3 ? "met" : "not met")}.");
        }
    }

    private static string Format(double? value) => value?.ToString("F1", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>"23%" for value/baseline, or "-".</summary>
    private static string Percent(double? value, double? baseline) =>
        value is { } v && baseline is > 0 ? (100 * v / baseline.Value).ToString("F0", CultureInfo.InvariantCulture) + "%" : "-";

    /// <summary>"4.7x" for value/baseline, or "-".</summary>
    private static string Times(double? value, double? baseline) =>
        value is { } v && baseline is > 0 ? (v / baseline.Value).ToString("F1", CultureInfo.InvariantCulture) + "x" : "-";
}
