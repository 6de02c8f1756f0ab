using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Dcutr;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests.Nat;

/// <summary>DCUtR on loopback: a relayed connection is upgraded to a direct one and traffic moves over; hostile messages.</summary>
public sealed class HolePunchTests
{
    private const string Echo = "/test/echo/1.0.0";

    /// <summary>A connection gate like the swarm's (one message each way), so every session starts untrusted.</summary>
    private static async Task GateAsync(Identity.PeerId peer, Stream stream, bool initiator, CancellationToken ct)
    {
        await stream.WriteAsync(new byte[] { 7 }, ct);
        var answer = new byte[1];
        await stream.ReadExactlyAsync(answer, ct);
        if (answer[0] != 7) throw new InvalidOperationException("wrong gate answer");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RelayedConnectionIsUpgradedToDirectAndBulkTrafficMovesOver(bool gated)
    {
        var reuse = new NatOptions { ReuseListenPort = true };
        Libp2pHostOptions Gate(Libp2pHostOptions o) => gated ? o with { ConnectionGate = GateAsync } : o;
        await using var relay = await HostFixture.StartAsync(81, o => Gate(o) with { Relay = new RelayOptions { Mode = RelayMode.On } });
        var log = new TestLog();
        await using var target = await HostFixture.StartAsync(82, o => Gate(o) with { Nat = reuse }, log);
        await using var dialer = await HostFixture.StartAsync(83, o => Gate(o) with { Nat = reuse }, log);
        target.SetStreamHandler(Echo, EchoAsync);
        await AutoNatTests.ConnectAndIdentifyAsync(target, relay);
        Assert.True(await target.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));

        await dialer.DialAsync(target.ListenAddresses.Single(AddressScope.IsCircuit), CancellationToken.None);
        try
        {
            await RelayTests.WaitUntilAsync(() => dialer.GetStats(target.LocalPeer) is { IsRelayed: false });
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{string.Join("\n", log.Lines.Where(l => !l.StartsWith("Trace")))}");
        }

        var before = dialer.GetStats(target.LocalPeer)!;
        var payload = new byte[2 << 20];
        Assert.Equal(payload.Length, (await RelayTests.EchoThroughAsync(dialer, target.LocalPeer, payload)).Length);
        var after = dialer.GetStats(target.LocalPeer)!;
        Assert.True(after.RelayedBytes - before.RelayedBytes < 64 * 1024, $"relayed bytes grew by {after.RelayedBytes - before.RelayedBytes}: bulk data took the relay");
        Assert.Equal(1, target.HolePunchSuccesses + dialer.HolePunchSuccesses > 0 ? 1 : 0);
    }

    [Theory]
    [InlineData("0864")]            // a valid CONNECT, followed by nothing: the dialer answers, then times out waiting for SYNC
    [InlineData("08ac02")]          // SYNC first, where CONNECT was expected
    [InlineData("0807")]            // unknown type
    [InlineData("1201")]            // truncated address field
    public async Task MalformedDcutrMessageEndsOnlyThatStream(string hex)
    {
        await using var relay = await HostFixture.StartAsync(84, o => o with { Relay = new RelayOptions { Mode = RelayMode.On } });
        await using var target = await HostFixture.StartAsync(85, o => o with { ListenAddresses = [], Nat = new NatOptions { HolePunching = false } });
        await using var dialer = await HostFixture.StartAsync(86, o => o with { ListenAddresses = [] });
        await AutoNatTests.ConnectAndIdentifyAsync(target, relay);
        Assert.True(await target.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));
        await dialer.DialAsync(target.ListenAddresses.Single(AddressScope.IsCircuit), CancellationToken.None);
        await RelayTests.WaitUntilAsync(() => target.IsConnected(dialer.LocalPeer));

        // The target acts as a hostile B: it sends garbage on a DCUtR stream over the relayed connection.
        await using (var stream = await target.OpenStreamAsync(dialer.LocalPeer, HolePunchMessage.ProtocolId, CancellationToken.None))
        {
            await stream.WriteLengthPrefixedAsync(Convert.FromHexString(hex));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                // A CONNECT answer, then nothing: the stream is ended by the dialer on the bad message.
                while (await stream.ReadLengthPrefixedAsync(HolePunchMessage.MaxMessageBytes, timeout.Token) is not null) { }
                throw new EndOfStreamException();
            });
        }
        await target.PingAsync(dialer.LocalPeer, CancellationToken.None);   // the relayed connection still works
    }

    [Fact]
    public void SyncIsType300OnTheWire() =>
        Assert.Equal("08ac02", Convert.ToHexStringLower(new HolePunchMessage(HolePunchType.Sync, []).Encode()));   // SYNC = 300

    private static async Task EchoAsync(Identity.PeerId peer, Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        await stream.CloseWriteAsync(ct);
    }
}
