using System.Text.Json.Nodes;
using Decentralized.Cli;

namespace Decentralized.Node.Tests.Daemon;

/// <summary>
/// <c>swarm local --link</c> end to end: real daemons behind emulated access links finish their rounds, the exchange
/// takes at least the time the link's rate allows, and every peer reports its measured compute utilisation.
/// </summary>
// "console": it runs `swarm local` in this process, which writes to the console other tests of that collection capture.
[Collection("console")]
[Trait("Category", "Daemon")]
public sealed class SwarmLocalLinkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("swarm-link-").FullName;

    [Fact]
    public void TwoPeersBehindSlowLinksExchangeAtTheLinkRateAndReportTheirUtilisation()
    {
        const double SlowBytesPerSecond = 2e6 / 8;   // peer1's 2 Mbit/s, both ways: the bottleneck of every exchange
        var dir = Path.Combine(_root, "swarm");
        int code = CliApp.Run(["swarm", "local", "--peers", "2", "--algorithm", "diloco", "--inner-steps", "5", "--rounds", "2", "--json",
            "--link", "8mbit,latency=20ms", "--link", "peer1=2mbit,latency=20ms", "--dir", dir,
            "--node-args", "--batch-size 4 --seq-len 32 --eval-batches 1 --warmup 5"]);
        Assert.Equal(0, code);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();
        var peers = summary["peers"]!.AsArray().Select(p => p!.AsObject()).ToArray();
        Assert.Equal(2, peers.Length);
        Assert.Equal(["8000000bit,latency=20ms", "2000000bit,latency=20ms"], peers.Select(p => p["link"]!.GetValue<string>()));
        Assert.All(peers, p => Assert.Equal(2, p["rounds"]!.GetValue<long>()));
        Assert.All(peers, p => Assert.InRange(p["utilisation"]!.GetValue<double>(), 0.001, 1.0));
        Assert.InRange(summary["utilisation"]!.GetValue<double>(), 0.001, 1.0);

        // Each round, whoever finished its steps first waits for the other's update, which left at least one transfer
        // time before it arrived: the two peers' waits add up to at least that (here ~2 s of a ~0.5 MB fp32 update).
        double payload = peers[0]["update_bytes_sent"]!.GetValue<long>() / 2.0;
        double transfer = payload / SlowBytesPerSecond;
        double waited = peers.Sum(p => p["wait_seconds"]!.GetValue<double>());
        Assert.True(waited >= 0.8 * 2 * transfer, $"the peers waited {waited:F2} s in all for 2 rounds of {payload:N0}-byte updates at 2 Mbit/s ({transfer:F2} s each)");
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
