using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Tests.Nat;

namespace Decentralized.Protocol.Tests.Interop;

/// <summary>Our circuit relay v2 client against a js-libp2p 3.3.11 relay server (js's default limits: 2 min, 128 KiB).</summary>
public sealed class JsRelayInteropTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [InteropFact]
    public async Task CSharpPeersReserveOnAndConnectThroughAJsRelay()
    {
        await using var js = JsPeer.Start("listen", "--port", "0", "--relay");
        var ready = await js.WaitForEventAsync("ready", Limit);
        var relayAddress = Multiaddr.Parse(ready.GetProperty("addrs")[0].GetString()!);
        await using var target = await HostFixture.StartAsync(91, o => o with { ListenAddresses = [] });
        await using var dialer = await HostFixture.StartAsync(92, o => o with { ListenAddresses = [] });
        target.SetStreamHandler("/test/echo/1.0.0", async (_, stream, ct) =>
        {
            var buffer = new byte[4096];
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0) await stream.WriteAsync(buffer.AsMemory(0, n), ct);
            await stream.CloseWriteAsync(ct);
        });

        var relay = await target.DialAsync(relayAddress, CancellationToken.None).WaitAsync(Limit);
        await RelayTests.WaitUntilAsync(() => target.GetIdentify(relay) is not null);
        Assert.True(await target.ReserveOnAsync(relay, CancellationToken.None), $"js relay refused the reservation\n{js.Stderr}");
        var circuit = target.ListenAddresses.First(AddressScope.IsCircuit);

        Assert.Equal(target.LocalPeer, await dialer.DialAsync(circuit, CancellationToken.None).WaitAsync(Limit));
        var payload = InteropPattern.Generate(16 * 1024);
        Assert.Equal(payload, await RelayTests.EchoThroughAsync(dialer, target.LocalPeer, payload));
        Assert.True(dialer.GetStats(target.LocalPeer)!.IsRelayed);
    }

    [InteropFact]
    public async Task JsPeerReservesOnOurRelayAndWeReachItThroughIt()
    {
        await using var relay = await HostFixture.StartAsync(93, o => o with { Relay = new Tcp.RelayOptions { Mode = Tcp.RelayMode.On } });
        await using var js = JsPeer.Start("listen", "--port", "0", "--reserve", relay.BoundAddresses[0].ToString());
        var ready = await js.WaitForEventAsync("ready", Limit);
        var circuit = ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!).FirstOrDefault(a => a.Contains("/p2p-circuit"));
        Assert.True(circuit is not null, $"js got no reservation on our relay: {ready}\n{js.Stderr}");
        Assert.Equal(1, relay.ActiveReservations);

        await using var dialer = await HostFixture.StartAsync(94, o => o with { ListenAddresses = [] });
        var peer = await dialer.DialAsync(Multiaddr.Parse(circuit!), CancellationToken.None).WaitAsync(Limit);
        var payload = InteropPattern.Generate(64 * 1024);
        await using var stream = await dialer.OpenStreamAsync(peer, "/decentralized/echo/1.0.0", CancellationToken.None).WaitAsync(Limit);
        var reader = Task.Run(async () => { var back = new MemoryStream(); await stream.CopyToAsync(back); return back.ToArray(); });
        await stream.WriteAsync(payload);
        await stream.CloseWriteAsync();
        Assert.Equal(payload, await reader.WaitAsync(Limit));
        Assert.True(dialer.GetStats(peer)!.IsRelayed);
        Assert.Equal(1, relay.ActiveCircuits);
    }
}
