using System.Globalization;
using Decentralized.Protocol.Benchmarks;

// Usage: dotnet run -c Release --project protocol/Decentralized.Protocol.Benchmarks -- [--mib 100] [--repeat 3] [--no-js]
var mib = IntArg(args, "--mib", 100);
var repeat = IntArg(args, "--repeat", 3);
var chunk = 64 * 1024;
var withJs = !args.Contains("--no-js");
var data = new byte[mib << 20];
new Random(42).NextBytes(data);

Console.WriteLine($"libp2p transport benchmark: {mib} MiB per run, {chunk / 1024} KiB writes, best of {repeat}, loopback, {Environment.ProcessorCount} cores");
var results = new List<BenchmarkResult>();

results.Add(await Best(repeat, () => PlainTcpBenchmark.RunAsync(data, chunk)));
results.Add(await Best(repeat, () => CSharpToCSharpAsync(data, chunk)));
if (withJs)
{
    var js = JsBenchmark.Locate();
    if (js.SkipReason is null)
    {
        results.Add(await Best(repeat, () => js.CSharpToJsAsync(data, chunk)));
        results.Add(await Best(repeat, () => js.JsToCSharpAsync(data.Length)));
        results.Add(await Best(repeat, () => js.JsToJsAsync(data.Length)));
    }
    else
    {
        Console.WriteLine($"js rows skipped: {js.SkipReason}");
    }
}

Console.WriteLine();
Console.WriteLine($"| {"pair",-28} | {"one-way MB/s",12} | {"echo MB/s",10} | {"dial→stream ms",14} | note");
Console.WriteLine($"|{new string('-', 30)}|{new string('-', 14)}|{new string('-', 12)}|{new string('-', 16)}|------");
foreach (var r in results)
{
    Console.WriteLine($"| {r.Pair,-28} | {Format(r.OneWayMBps),12} | {Format(r.EchoMBps),10} | {Format(r.DialToStreamMs),14} | {r.Note}");
}
var plain = results[0].OneWayMBps;
var csharp = results[1].OneWayMBps;
var (encrypt, decrypt) = CipherBenchmark.Run(TimeSpan.FromSeconds(1));
Console.WriteLine($"\nChaCha20-Poly1305 on one core (our NoiseCipherState, full frames): seal {encrypt:F0} MB/s, open {decrypt:F0} MB/s.");
if (plain is > 0 && csharp is > 0)
{
    double ceiling = CipherBenchmark.Ceiling(plain.Value, encrypt, decrypt);
    Console.WriteLine($"C#<->C# one-way is {csharp / plain:P0} of plain .NET TCP; any Noise stream here is capped near {ceiling:F0} MB/s " +
        $"({ceiling / plain:P0} of plain TCP: each side pays the socket copy and the cipher), and C#<->C# reaches {csharp / ceiling:P0} of that cap.");
}
var jsToJs = results.FirstOrDefault(r => r.Pair.StartsWith("js <-> js", StringComparison.Ordinal))?.OneWayMBps;
if (csharp is > 0 && jsToJs is > 0)
{
    Console.WriteLine($"C#<->C# one-way is {csharp / jsToJs:F1}x js<->js.");
}
return 0;

static async Task<BenchmarkResult> CSharpToCSharpAsync(byte[] data, int chunk)
{
    await using var server = await Libp2pBenchmark.StartHostAsync(serve: true);
    await using var client = await Libp2pBenchmark.StartHostAsync(serve: false);
    var target = server.ListenAddresses[0];
    var oneWay = await Libp2pBenchmark.OneWayAsync(client, target, data, chunk);
    var echo = await Libp2pBenchmark.EchoAsync(client, target, data, chunk);
    var dial = await Libp2pBenchmark.DialToFirstStreamAsync(target, samples: 9);
    return new BenchmarkResult("C# <-> C# (noise+yamux)", oneWay, echo, dial);
}

static async Task<BenchmarkResult> Best(int repeat, Func<Task<BenchmarkResult>> run)
{
    BenchmarkResult? best = null;
    for (var i = 0; i < repeat; i++)
    {
        var r = await run();
        best = best is null ? r : best with
        {
            OneWayMBps = Max(best.OneWayMBps, r.OneWayMBps),
            EchoMBps = Max(best.EchoMBps, r.EchoMBps),
            DialToStreamMs = Min(best.DialToStreamMs, r.DialToStreamMs),
        };
    }
    Console.WriteLine($"  done: {best!.Pair}");
    return best;
}

static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
static string Format(double? value) => value?.ToString("F1", CultureInfo.InvariantCulture) ?? "-";

static int IntArg(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}
