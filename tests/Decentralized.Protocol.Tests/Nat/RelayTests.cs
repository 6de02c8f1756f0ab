using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Relay;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests.Nat;

/// <summary>Circuit relay v2 over real loopback hosts: reservation, relayed connection, limits, hostile messages.</summary>
public sealed class RelayTests
{
    private const string Echo = "/test/echo/1.0.0";

    [Fact]
    public async Task PeerReachesAnotherThroughItsRelayReservation()
    {
        await using var relay = await HostFixture.StartAsync(61, o => o with { Relay = new RelayOptions { Mode = RelayMode.On } });
        await using var target = await HostFixture.StartAsync(62, o => o with { ListenAddresses = [] });
        await using var dialer = await HostFixture.StartAsync(63, o => o with { ListenAddresses = [] });
        target.SetStreamHandler(Echo, EchoAsync);
        await AutoNatTests.ConnectAndIdentifyAsync(target, relay);

        Assert.True(await target.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));
        var circuit = Assert.Single(target.ListenAddresses, AddressScope.IsCircuit);
        Assert.Equal(target.LocalPeer, circuit.GetPeerId());

        Assert.Equal(target.LocalPeer, await dialer.DialAsync(circuit, CancellationToken.None));
        var payload = Enumerable.Range(0, 200_000).Select(i => (byte)i).ToArray();
        Assert.Equal(payload, await EchoThroughAsync(dialer, target.LocalPeer, payload));
        Assert.True(dialer.GetStats(target.LocalPeer)!.IsRelayed);
        Assert.Equal(1, relay.ActiveCircuits);
    }

    [Fact]
    public async Task RelayResetsAConnectionThatPassesItsDataLimit()
    {
        await using var relay = await HostFixture.StartAsync(64, o => o with { Relay = new RelayOptions { Mode = RelayMode.On, CircuitBytesMax = 64 * 1024 } });
        await using var target = await HostFixture.StartAsync(65, o => o with { ListenAddresses = [] });
        await using var dialer = await HostFixture.StartAsync(66, o => o with { ListenAddresses = [] });
        target.SetStreamHandler(Echo, EchoAsync);
        await AutoNatTests.ConnectAndIdentifyAsync(target, relay);
        Assert.True(await target.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));
        var circuit = target.ListenAddresses.Single(AddressScope.IsCircuit);
        await dialer.DialAsync(circuit, CancellationToken.None);

        await Assert.ThrowsAnyAsync<Exception>(() => EchoThroughAsync(dialer, target.LocalPeer, new byte[1 << 20]));

        // Both ends noticed: the relayed connection is gone, the direct connections to the relay are not.
        await WaitUntilAsync(() => !dialer.IsConnected(target.LocalPeer) && relay.ActiveCircuits == 0);
        Assert.True(target.IsConnected(relay.LocalPeer));
    }

    [Fact]
    public async Task ConnectWithoutReservationAndMalformedHopMessagesAreRefusedOnTheirStreamOnly()
    {
        await using var relay = await HostFixture.StartAsync(67, o => o with { Relay = new RelayOptions { Mode = RelayMode.On } });
        await using var client = await HostFixture.StartAsync(68);
        await AutoNatTests.ConnectAndIdentifyAsync(client, relay);
        var nobody = PrivateKey.FromSeed(Enumerable.Repeat((byte)99, 32).ToArray()).PeerId;

        Assert.Equal(RelayStatus.NoReservation, (await HopAsync(client, relay.LocalPeer, new HopMessage(HopMessageType.Connect, new PeerAddressInfo(nobody, [])).Encode())).Status);
        Assert.Equal(RelayStatus.MalformedMessage, (await HopAsync(client, relay.LocalPeer, Convert.FromHexString("0805"))).Status);
        Assert.Equal(RelayStatus.MalformedMessage, (await HopAsync(client, relay.LocalPeer, Convert.FromHexString("0801120312"))).Status);
        Assert.Equal(RelayStatus.UnexpectedMessage, (await HopAsync(client, relay.LocalPeer, new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode())).Status);
        await client.PingAsync(relay.LocalPeer, CancellationToken.None);
    }

    [Fact]
    public async Task RelayRefusesReservationsBeyondItsLimit()
    {
        await using var relay = await HostFixture.StartAsync(69, o => o with { Relay = new RelayOptions { Mode = RelayMode.On, ReservationsMax = 1 } });
        await using var first = await HostFixture.StartAsync(70);
        await using var second = await HostFixture.StartAsync(71);
        await AutoNatTests.ConnectAndIdentifyAsync(first, relay);
        await AutoNatTests.ConnectAndIdentifyAsync(second, relay);

        Assert.True(await first.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));
        Assert.True(await first.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));   // renewal is not a second slot
        Assert.False(await second.ReserveOnAsync(relay.LocalPeer, CancellationToken.None));
    }

    [Fact]
    public async Task TargetRefusesStopFromARelayItHoldsNoReservationOn()
    {
        await using var fakeRelay = await HostFixture.StartAsync(72);
        await using var target = await HostFixture.StartAsync(73);
        await AutoNatTests.ConnectAndIdentifyAsync(fakeRelay, target);
        var stranger = PrivateKey.FromSeed(Enumerable.Repeat((byte)98, 32).ToArray()).PeerId;

        await using var stream = await fakeRelay.OpenStreamAsync(target.LocalPeer, StopMessage.ProtocolId, CancellationToken.None);
        await stream.WriteLengthPrefixedAsync(new StopMessage(StopMessageType.Connect, new PeerAddressInfo(stranger, [])).Encode());
        var reply = StopMessage.Decode((await stream.ReadLengthPrefixedAsync(StopMessage.MaxMessageBytes))!);

        Assert.Equal(RelayStatus.PermissionDenied, reply.Status);
    }

    [Fact]
    public void MessagesRoundTripWithSpecWireValues()
    {
        var peer = PrivateKey.FromSeed(Enumerable.Repeat((byte)3, 32).ToArray()).PeerId;
        var hop = new HopMessage(HopMessageType.Status, Reservation: new RelayReservation(1_700_000_000, [Multiaddr.Parse($"/ip4/203.0.113.1/tcp/4001/p2p/{peer}")]),
            Limit: new RelayLimit(120, 1 << 17), Status: RelayStatus.Ok);
        var decoded = HopMessage.Decode(hop.Encode());
        Assert.Equal(hop.Reservation!.Addresses, decoded.Reservation!.Addresses);
        Assert.Equal((hop.Type, hop.Limit, hop.Status, hop.Reservation.ExpireUnixSeconds), (decoded.Type, decoded.Limit, decoded.Status, decoded.Reservation.ExpireUnixSeconds));
        // RESERVE = type 0; STATUS OK = 100 in field 5 of HopMessage and field 4 of StopMessage.
        Assert.Equal("0800", Convert.ToHexStringLower(new HopMessage(HopMessageType.Reserve).Encode()));
        Assert.Equal("08022864", Convert.ToHexStringLower(new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode()));
        Assert.Equal("08012064", Convert.ToHexStringLower(new StopMessage(StopMessageType.Status, Status: RelayStatus.Ok).Encode()));
        var stop = new StopMessage(StopMessageType.Connect, new PeerAddressInfo(peer, []), new RelayLimit(60, 0));
        Assert.Equal(stop.Peer!.Id, StopMessage.Decode(stop.Encode()).Peer!.Id);
    }

    private static async Task EchoAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        await stream.CloseWriteAsync(ct);
    }

    internal static async Task<byte[]> EchoThroughAsync(Libp2pHost from, PeerId to, byte[] payload)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var stream = await from.OpenStreamAsync(to, Echo, timeout.Token);
        var write = Task.Run(async () => { await stream.WriteAsync(payload, timeout.Token); await stream.CloseWriteAsync(timeout.Token); });
        var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        await write;
        return received.ToArray();
    }

    private static async Task<HopMessage> HopAsync(Libp2pHost client, PeerId relay, byte[] message)
    {
        await using var stream = await client.OpenStreamAsync(relay, HopMessage.ProtocolId, CancellationToken.None);
        await stream.WriteLengthPrefixedAsync(message);
        return HopMessage.Decode((await stream.ReadLengthPrefixedAsync(HopMessage.MaxMessageBytes))!);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 15 s");
            await Task.Delay(50);
        }
    }
}
