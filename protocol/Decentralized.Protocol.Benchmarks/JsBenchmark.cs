using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Decentralized.Protocol.Addressing;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>Rows involving the js-libp2p interop peer (scripts/interop/peer.mjs), run only when it is installed.</summary>
internal sealed class JsBenchmark
{
    private readonly string _peerScript;

    private JsBenchmark(string peerScript, string? skipReason)
    {
        _peerScript = peerScript;
        SkipReason = skipReason;
    }

    public string? SkipReason { get; }

    public static JsBenchmark Locate()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var interop = Path.Combine(dir.FullName, "scripts", "interop");
                if (File.Exists(Path.Combine(interop, "peer.mjs")))
                {
                    var installed = File.Exists(Path.Combine(interop, "node_modules", "libp2p", "package.json"));
                    return new JsBenchmark(Path.Combine(interop, "peer.mjs"),
                        installed ? null : "scripts/interop/node_modules missing (run scripts/interop/setup.sh)");
                }
            }
        }
        return new JsBenchmark("", "scripts/interop/peer.mjs not found");
    }

    public async Task<BenchmarkResult> CSharpToJsAsync(byte[] data, int chunk)
    {
        using var js = StartNode("listen", "--port", "0");
        var ready = await ReadEventAsync(js, "ready");
        var target = Multiaddr.Parse(ready.GetProperty("addrs")[0].GetString()!);
        await using var client = await Libp2pBenchmark.StartHostAsync(serve: false);
        var (oneWay, _) = await Libp2pBenchmark.OneWayAsync(client, target, data, chunk, Libp2pBenchmark.BulkProtocol);
        var echo = await Libp2pBenchmark.EchoAsync(client, target, data, chunk);
        var dial = await Libp2pBenchmark.DialToFirstStreamAsync(target, samples: 5);
        js.StandardInput.Close();
        await js.WaitForExitAsync();
        return new BenchmarkResult("C# -> js (C# dials/sends)", oneWay, echo, dial, "js hashes what it receives");
    }

    public async Task<BenchmarkResult> JsToCSharpAsync(int bytes)
    {
        await using var server = await Libp2pBenchmark.StartHostAsync(serve: true);
        var target = server.ListenAddresses[0].ToString();
        var oneWay = await RunDialerAsync(target, bytes, echo: false);
        var echoRate = await RunDialerAsync(target, bytes, echo: true);
        return new BenchmarkResult("js -> C# (js dials/sends)", oneWay, echoRate, null, "C# hashes what it receives");
    }

    public async Task<BenchmarkResult> JsToJsAsync(int bytes)
    {
        using var js = StartNode("listen", "--port", "0");
        var ready = await ReadEventAsync(js, "ready");
        var target = ready.GetProperty("addrs")[0].GetString()!;
        var oneWay = await RunDialerAsync(target, bytes, echo: false);
        var echoRate = await RunDialerAsync(target, bytes, echo: true);
        js.StandardInput.Close();
        await js.WaitForExitAsync();
        return new BenchmarkResult("js <-> js", oneWay, echoRate, null, "js hashes what it receives");
    }

    private async Task<double> RunDialerAsync(string target, int bytes, bool echo)
    {
        string[] args = ["dial", target, "--bytes", bytes.ToString(CultureInfo.InvariantCulture), "--no-ping"];
        using var dialer = StartNode(echo ? [.. args, "--echo"] : args);
        var result = await ReadEventAsync(dialer, echo ? "echo" : "bulk");
        await dialer.WaitForExitAsync();
        return result.GetProperty("mbPerSec").GetDouble();
    }

    private Process StartNode(params string[] args)
    {
        var info = new ProcessStartInfo("node", [_peerScript, .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info)!;
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static async Task<JsonElement> ReadEventAsync(Process process, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }
            var element = JsonDocument.Parse(line).RootElement.Clone();
            var kind = element.GetProperty("event").GetString();
            if (kind == name)
            {
                return element;
            }
            if (kind == "error")
            {
                throw new InvalidOperationException("js peer: " + element.GetProperty("message").GetString());
            }
        }
        throw new InvalidOperationException($"js peer exited before '{name}'");
    }
}
