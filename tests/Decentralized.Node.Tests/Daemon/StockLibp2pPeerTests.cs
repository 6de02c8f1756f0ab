using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tests.Interop;

namespace Decentralized.Node.Tests.Daemon;

/// <summary>
/// A good libp2p citizen: a stock js-libp2p peer (scripts/interop, not one of ours) dials a running <c>node run</c>,
/// completes Noise and Yamux, and has identify and ping answered; the swarm's own protocols stay behind the gate.
/// </summary>
[Collection("daemons")]
[Trait("Category", "Daemon")]
public sealed class StockLibp2pPeerTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);
    private readonly string _root = Directory.CreateTempSubdirectory("stock-peer-").FullName;

    [InteropFact]
    public async Task AJsLibp2pPeerGetsIdentifyAndPingButNoSwarmProtocol()
    {
        await using var node = new DaemonProcess(Path.Combine(_root, "node"), SwarmDaemonTests.Tiny(0, "--min-peers", "2"));
        var address = node.Address;

        // identify and ping, as any libp2p peer asks them right after connecting.
        await using (var js = JsPeer.Start("dial", address, "--timeout", "60"))
        {
            var connected = await js.WaitForEventAsync("connected", Limit);
            Assert.True(connected.GetProperty("identified").GetBoolean(), $"js got no identify from the node\n{js.Stderr}\n{node.Log}");
            Assert.StartsWith("decentralized/", connected.GetProperty("agentVersion").GetString());
            Assert.Equal(address.Split("/p2p/")[1], connected.GetProperty("remotePeer").GetString());
            // Before the gate only identify and ping are offered: the swarm's protocols are not even named.
            Assert.Equal(["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"], connected.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()).Order());
            var ping = await js.WaitForEventAsync("ping", Limit);
            Assert.True(ping.GetProperty("rttMs").GetDouble() >= 0);
            await js.WaitForEventAsync("done", Limit);
            Assert.Equal(0, await js.WaitForExitAsync(Limit));
        }

        // A swarm protocol without the gate: refused, and the stock peer never becomes a member.
        await using (var js = JsPeer.Start("dial", address, "--no-ping", "--protocol", SwarmProtocols.State, "--bytes", "64", "--timeout", "60"))
        {
            await js.WaitForEventAsync("connected", Limit);
            var error = await js.WaitForEventAsync("error", Limit);
            Assert.NotEqual(0, await js.WaitForExitAsync(Limit));
            Assert.DoesNotContain("bulk", error.GetRawText());
        }
        Assert.False(node.HasExited);
        Assert.DoesNotContain("joined", node.Log);
        // The stock peer hung up (or would be closed after the 10 s handshake timeout): one plain line each, no warning.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!node.Log.Contains("is a plain libp2p peer") && DateTime.UtcNow < until) await Task.Delay(200);
        Assert.True(node.Log.Contains("is a plain libp2p peer: identify and ping answered, closed without the swarm gate"), node.Log);
        Assert.DoesNotContain("Handshake with", node.Log);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
