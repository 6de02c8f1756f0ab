using Decentralized.Protocol.Benchmarks;

// Usage: dotnet run -c Release --project protocol/Decentralized.Protocol.Benchmarks -- [--mib 100] [--repeat 3] [--no-js]
var mib = IntArg(args, "--mib", 100);
var repeat = IntArg(args, "--repeat", 3);
var chunk = 64 * 1024;
var withJs = !args.Contains("--no-js");
var data = new byte[mib << 20];
new Random(42).NextBytes(data);

Console.WriteLine($"libp2p transport benchmark: {mib} MiB per run, {chunk / 1024} KiB writes, best of {repeat}, loopback, " +
    $"{Environment.ProcessorCount} cores, {ProcessCpu.LoadAverage()} at start");
// One short untimed pass of the in-process rows, so tiered JIT is not what the first timed run measures.
var warmUp = data.AsMemory(0, Math.Min(data.Length, 16 << 20)).ToArray();
await PlainTcpBenchmark.RunAsync(warmUp, chunk);
await CSharpToCSharpAsync(warmUp, chunk, dialSamples: 1);

var results = new List<BenchmarkResult>();
results.Add(await Best(repeat, () => PlainTcpBenchmark.RunAsync(data, chunk)));
results.Add(await Best(repeat, () => CSharpToCSharpAsync(data, chunk, dialSamples: 9)));
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
var (encrypt, decrypt) = CipherBenchmark.Run(TimeSpan.FromSeconds(1));
var cipherAll = CipherBenchmark.SealAndOpenMBps(TimeSpan.FromSeconds(1), threads: Math.Min(2, Environment.ProcessorCount));
var loadAtEnd = ProcessCpu.LoadAverage();

BenchmarkSummary.PrintTable(results);
BenchmarkSummary.Print(results, data.Length, encrypt, decrypt, cipherAll);
Console.WriteLine($"Machine {loadAtEnd} at end (the rates share the cores with whatever else runs).");
return 0;

static async Task<BenchmarkResult> CSharpToCSharpAsync(byte[] data, int chunk, int dialSamples)
{
    await using var server = await Libp2pBenchmark.StartHostAsync(serve: true);
    await using var client = await Libp2pBenchmark.StartHostAsync(serve: false);
    var target = server.ListenAddresses[0];
    var (oneWay, cpuMs) = await Libp2pBenchmark.OneWayAsync(client, target, data, chunk);
    var echo = await Libp2pBenchmark.EchoAsync(client, target, data, chunk);
    var dial = await Libp2pBenchmark.DialToFirstStreamAsync(target, dialSamples);
    return new BenchmarkResult("C# <-> C# (noise+yamux)", oneWay, echo, dial, OneWayCpuMs: cpuMs);
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
            OneWayCpuMs = Min(best.OneWayCpuMs, r.OneWayCpuMs),
        };
    }
    Console.WriteLine($"  done: {best!.Pair}");
    return best;
}

static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

static int IntArg(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}
