using System.Security.Cryptography;
using System.Text;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests.Interop;

/// <summary>
/// The C# host against a real js-libp2p 3.3.11 peer (scripts/interop): both dial directions, Noise + Yamux with inline
/// muxer negotiation, identify in both directions, ping, and 64 MiB through the bulk protocol. Skipped with the reason
/// when node or the npm packages are not installed.
/// </summary>
[Trait("Category", "Interop")]
[Collection("js-interop")]
public sealed class JsInteropTests
{
    internal const string BulkProtocol = "/decentralized/bulk/1.0.0";
    internal const string EchoProtocol = "/decentralized/echo/1.0.0";
    private const int BulkBytes = 64 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [InteropFact]
    public async Task CSharpDialsJsIdentifiesPingsAndSends64MiB()
    {
        await using var js = JsPeer.Start("listen", "--port", "0", "--seed", new string('a', 64));
        var ready = await js.WaitForEventAsync("ready", Limit);
        var address = Multiaddr.Parse(ready.GetProperty("addrs")[0].GetString()!);
        await using var host = await HostFixture.StartAsync(21);
        var identified = new TaskCompletionSource<IdentifyMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerIdentified += (_, message) => identified.TrySetResult(message);

        var peer = await host.DialAsync(address, CancellationToken.None).WaitAsync(Limit);
        Assert.Equal(PeerId.Parse(ready.GetProperty("peerId").GetString()!), peer);
        var info = await identified.Task.WaitAsync(Limit);
        Assert.StartsWith("js-libp2p/", info.AgentVersion);
        Assert.Contains(BulkProtocol, info.Protocols);
        Assert.Equal(peer, info.PublicKey!.ToPeerId());

        var rtt = await host.PingAsync(peer, CancellationToken.None).WaitAsync(Limit);
        Assert.InRange(rtt, TimeSpan.Zero, Limit);

        var data = InteropPattern.Generate(BulkBytes);
        await using var stream = await host.OpenStreamAsync(peer, BulkProtocol, CancellationToken.None).WaitAsync(Limit);
        await stream.WriteAsync(data).AsTask().WaitAsync(Limit);
        await stream.CloseWriteAsync();
        var reply = new MemoryStream();
        await stream.CopyToAsync(reply).WaitAsync(Limit);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), Encoding.ASCII.GetString(reply.ToArray()));
    }

    [InteropFact]
    public async Task CSharpDialsJsAndEchoComesBackIntact()
    {
        await using var js = JsPeer.Start("listen", "--port", "0");
        var ready = await js.WaitForEventAsync("ready", Limit);
        await using var host = await HostFixture.StartAsync(22);
        var peer = await host.DialAsync(Multiaddr.Parse(ready.GetProperty("addrs")[0].GetString()!), CancellationToken.None).WaitAsync(Limit);
        var data = InteropPattern.Generate(8 << 20);
        await using var stream = await host.OpenStreamAsync(peer, EchoProtocol, CancellationToken.None).WaitAsync(Limit);
        var reader = Task.Run(async () =>
        {
            var back = new MemoryStream();
            await stream.CopyToAsync(back);
            return back.ToArray();
        });
        await stream.WriteAsync(data).AsTask().WaitAsync(Limit);
        await stream.CloseWriteAsync();
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await reader.WaitAsync(Limit)));
    }

    [InteropFact]
    public async Task JsDialsCSharpIdentifiesPingsAndSends64MiB()
    {
        await using var host = await HostFixture.StartAsync(23);
        ServeBulkAndEcho(host);
        var identified = new TaskCompletionSource<IdentifyMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerIdentified += (_, message) => identified.TrySetResult(message);

        await using var js = JsPeer.Start("dial", host.ListenAddresses[0].ToString(), "--bytes", BulkBytes.ToString());
        var connected = await js.WaitForEventAsync("connected", Limit);
        Assert.True(connected.GetProperty("identified").GetBoolean(), "js did not receive identify from C#");
        var protocols = connected.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains(BulkProtocol, protocols);
        Assert.Contains("/ipfs/ping/1.0.0", protocols);
        Assert.Equal("ipfs/0.1.0", connected.GetProperty("protocolVersion").GetString());

        var ping = await js.WaitForEventAsync("ping", Limit);
        Assert.True(ping.GetProperty("rttMs").GetDouble() >= 0);
        var bulk = await js.WaitForEventAsync("bulk", Limit);
        Assert.Equal(BulkBytes, bulk.GetProperty("bytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(InteropPattern.Generate(BulkBytes))), bulk.GetProperty("remoteSha256").GetString());
        await js.WaitForEventAsync("done", Limit);
        Assert.Equal(0, await js.WaitForExitAsync(Limit));
        Assert.StartsWith("js-libp2p/", (await identified.Task.WaitAsync(Limit)).AgentVersion);
    }

    [InteropFact]
    public async Task JsDialsCSharpAndCSharpEchoesIntact()
    {
        await using var host = await HostFixture.StartAsync(24);
        ServeBulkAndEcho(host);
        await using var js = JsPeer.Start("dial", host.ListenAddresses[0].ToString(), "--bytes", (8 << 20).ToString(), "--echo", "--no-ping");
        var echo = await js.WaitForEventAsync("echo", Limit);
        Assert.Equal(echo.GetProperty("sha256").GetString(), echo.GetProperty("echoSha256").GetString());
        Assert.Equal(0, await js.WaitForExitAsync(Limit));
    }

    [InteropFact]
    public async Task ConnectionSurvivesJsHeartbeatAndCSharpCanOpenStreamsOnJsDialedConnection()
    {
        await using var host = await HostFixture.StartAsync(25);
        ServeBulkAndEcho(host);
        var connected = new TaskCompletionSource<PeerId>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerConnected += p => connected.TrySetResult(p);
        await using var js = JsPeer.Start("dial", host.ListenAddresses[0].ToString(), "--hold", "--no-ping");
        var peer = await connected.Task.WaitAsync(Limit);
        await js.WaitForEventAsync("done", Limit);
        // js's connection monitor pings every 10 s and aborts on failure; stay past one round.
        await Task.Delay(TimeSpan.FromSeconds(12));
        Assert.True(host.IsConnected(peer));
        var data = InteropPattern.Generate(1 << 20);
        await using var stream = await host.OpenStreamAsync(peer, BulkProtocol, CancellationToken.None).WaitAsync(Limit);
        await stream.WriteAsync(data);
        await stream.CloseWriteAsync();
        var reply = new MemoryStream();
        await stream.CopyToAsync(reply).WaitAsync(Limit);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), Encoding.ASCII.GetString(reply.ToArray()));
        Assert.NotNull(host.GetStats(peer)?.RoundTripTime);
    }

    internal static void ServeBulkAndEcho(Libp2pHost host)
    {
        host.SetStreamHandler(EchoProtocol, TcpHostTests.EchoAsync);
        host.SetStreamHandler(BulkProtocol, async (_, stream, ct) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, n);
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash.GetHashAndReset())), ct);
            await stream.CloseWriteAsync(ct);
        });
    }
}
