using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests.Nat;

/// <summary>AutoNAT v1 over real loopback hosts: verdicts, the spec's dial-back limits, hostile requests.</summary>
public sealed class AutoNatTests
{
    [Fact]
    public async Task ListeningPeerIsPublicAndAnnouncesTheDialedAddress()
    {
        await using var server = await HostFixture.StartAsync(41);
        await using var client = await HostFixture.StartAsync(42);
        await ConnectAndIdentifyAsync(client, server);

        var verdict = await client.CheckReachabilityAsync(CancellationToken.None);

        Assert.Equal(Reachability.Public, verdict);
        Assert.Contains(client.ListenAddresses, a => a.WithoutPeerId().Equals(client.BoundAddresses[0].WithoutPeerId()));
    }

    [Fact]
    public async Task ReachabilityCheckedRightAfterADialWaitsForThePeersIdentify()
    {
        // What the doctor does: dial the bootstrap peer and ask at once. Identify runs beside the dial, so without
        // waiting for it the check found no AutoNAT server and said "unknown" (seen on a loaded CI machine).
        await using var server = await HostFixture.StartAsync(51);
        for (var i = 0; i < 5; i++)
        {
            await using var client = await HostFixture.StartAsync((byte)(52 + i));
            await client.DialAsync(server.BoundAddresses[0], CancellationToken.None);

            Assert.Equal(Reachability.Public, await client.CheckReachabilityAsync(CancellationToken.None));
        }
    }

    [Fact]
    public async Task PeerThatDoesNotListenIsPrivate()
    {
        await using var server = await HostFixture.StartAsync(43);
        await using var client = await HostFixture.StartAsync(44, o => o with { ListenAddresses = [] });
        await ConnectAndIdentifyAsync(client, server);

        Assert.Equal(Reachability.Private, await client.CheckReachabilityAsync(CancellationToken.None));
    }

    [Fact]
    public async Task NoServerMeansUnknown()
    {
        await using var server = await HostFixture.StartAsync(45, o => o with { Nat = new NatOptions { AutoNatServer = false } });
        await using var client = await HostFixture.StartAsync(46);
        await ConnectAndIdentifyAsync(client, server);

        Assert.Equal(Reachability.Unknown, await client.CheckReachabilityAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ServerNeverDialsAnAddressOffTheRequestersObservedIp()
    {
        await using var server = await HostFixture.StartAsync(47);
        await using var client = await HostFixture.StartAsync(48, o => o with { ListenAddresses = [] });
        await ConnectAndIdentifyAsync(client, server);

        var response = await RequestAsync(client, server.LocalPeer,
            AutoNatMessage.DialRequest(new PeerAddressInfo(client.LocalPeer, [Multiaddr.Parse("/ip4/192.0.2.1/tcp/4001"), Multiaddr.Parse("/ip4/127.0.0.2/tcp/4001")])).Encode());

        Assert.Equal(AutoNatStatus.DialError, response.Status);
        Assert.DoesNotContain("192.0.2.1", response.StatusText);
        Assert.DoesNotContain("127.0.0.2", response.StatusText);
    }

    [Fact]
    public async Task ServerRateLimitsOnePeer()
    {
        await using var server = await HostFixture.StartAsync(49, o => o with { Nat = new NatOptions { DialBacksPerPeerPerMinute = 2 } });
        await using var client = await HostFixture.StartAsync(50);
        await ConnectAndIdentifyAsync(client, server);

        var statuses = new List<AutoNatStatus?>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await client.AskDialBackAsync(server.LocalPeer, CancellationToken.None))?.Status);
        }

        Assert.Equal([AutoNatStatus.Ok, AutoNatStatus.Ok, AutoNatStatus.DialRefused], statuses);
    }

    [Theory]
    [InlineData("0a")]                 // truncated tag value
    [InlineData("0800")]               // DIAL without the dial part
    [InlineData("08011a00")]           // DIAL_RESPONSE without status
    [InlineData("1203 0a01ff")]        // dial.peer.id is not a multihash
    public async Task MalformedRequestClosesOnlyThatStream(string hex)
    {
        await using var server = await HostFixture.StartAsync(51);
        await using var client = await HostFixture.StartAsync(52);
        await ConnectAndIdentifyAsync(client, server);

        var response = await RequestAsync(client, server.LocalPeer, Convert.FromHexString(hex.Replace(" ", "")));

        Assert.Equal(AutoNatStatus.BadRequest, response.Status);
        Assert.True(client.IsConnected(server.LocalPeer), $"input {hex}: the connection must survive a malformed AutoNAT request");
        await client.PingAsync(server.LocalPeer, CancellationToken.None);   // the same connection still carries other protocols
    }

    [Fact]
    public void ThrottleCountsPerPeerAndGloballyAndForgetsAfterAMinute()
    {
        var time = new ManualTimeProvider();
        var throttle = new DialBackThrottle(time, globalPerMinute: 3, perPeerPerMinute: 2);
        var a = PrivateKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray()).PeerId;
        var b = PrivateKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray()).PeerId;

        Assert.True(throttle.TryAcquire(a));
        Assert.True(throttle.TryAcquire(a));
        Assert.False(throttle.TryAcquire(a));
        Assert.True(throttle.TryAcquire(b));
        Assert.False(throttle.TryAcquire(b));   // global limit of 3
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(throttle.TryAcquire(a));
    }

    [Fact]
    public void TrackerTakesTheLatestAnswerOfEachPeerAndIgnoresRefusals()
    {
        var tracker = new ReachabilityTracker();
        var a = PrivateKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray()).PeerId;
        var b = PrivateKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray()).PeerId;
        Assert.Equal(Reachability.Unknown, tracker.Current);
        tracker.Record(a, AutoNatStatus.DialRefused);
        Assert.Equal(Reachability.Unknown, tracker.Current);
        tracker.Record(a, AutoNatStatus.DialError);
        Assert.Equal(Reachability.Private, tracker.Current);
        tracker.Record(b, AutoNatStatus.Ok);
        Assert.Equal(Reachability.Public, tracker.Current);
        tracker.Record(b, AutoNatStatus.DialError);
        Assert.Equal(Reachability.Private, tracker.Current);
        Assert.Equal(2, tracker.Answers);
    }

    [Fact]
    public void MessagesRoundTrip()
    {
        var peer = PrivateKey.FromSeed(Enumerable.Repeat((byte)3, 32).ToArray()).PeerId;
        var request = AutoNatMessage.DialRequest(new PeerAddressInfo(peer, [Multiaddr.Parse("/ip4/198.51.100.7/tcp/4001")]));
        var decoded = AutoNatMessage.Decode(request.Encode());
        Assert.True(decoded.IsDial);
        Assert.Equal(peer, decoded.Dial!.Id);
        Assert.Equal(request.Dial!.Addresses, decoded.Dial.Addresses);

        var response = AutoNatMessage.DialResponse(AutoNatStatus.Ok, "dialed back", Multiaddr.Parse("/ip4/198.51.100.7/tcp/4001"));
        Assert.Equal(response, AutoNatMessage.Decode(response.Encode()));
        // Wire values from the spec: DIAL_RESPONSE = 1, E_DIAL_ERROR = 100.
        Assert.Equal("08011a020864", Convert.ToHexStringLower(AutoNatMessage.DialResponse(AutoNatStatus.DialError, null).Encode()));
    }

    [Fact]
    public void AnnounceValidationRefusesAddressesNobodyCanDial()
    {
        Assert.Null(AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/ip4/203.0.113.5/tcp/4001")));
        Assert.Null(AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/dns4/node.example.org/tcp/4001")));
        Assert.Contains("port 0", AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/ip4/203.0.113.5/tcp/0")));
        Assert.Contains("every interface", AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001")));
        Assert.Contains("loopback", AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")));
        Assert.Contains("loopback", AddressScope.WhyNotAnnounceable(Multiaddr.Parse("/ip6/::1/tcp/4001")));
        var key = PrivateKey.FromSeed(new byte[32]);
        Assert.Throws<ArgumentException>(() => new Libp2pHost(new Libp2pHostOptions { Identity = key, AnnounceAddresses = [Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001")] }));
        Assert.True(AddressScope.IsPublic(System.Net.IPAddress.Parse("198.51.100.1")));
        Assert.False(AddressScope.IsPublic(System.Net.IPAddress.Parse("10.1.2.3")));
        Assert.False(AddressScope.IsPublic(System.Net.IPAddress.Parse("100.64.0.1")));
    }

    internal static async Task ConnectAndIdentifyAsync(Libp2pHost client, Libp2pHost server)
    {
        var identified = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.PeerIdentified += (p, _) => { if (p == server.LocalPeer) identified.TrySetResult(); };
        await client.DialAsync(server.BoundAddresses[0], CancellationToken.None);
        if (client.GetIdentify(server.LocalPeer) is null)
        {
            await identified.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static async Task<AutoNatMessage> RequestAsync(Libp2pHost client, PeerId server, byte[] request)
    {
        await using var stream = await client.OpenStreamAsync(server, AutoNatMessage.ProtocolId, CancellationToken.None);
        await stream.WriteLengthPrefixedAsync(request);
        var bytes = await stream.ReadLengthPrefixedAsync(AutoNatMessage.MaxMessageBytes);
        return AutoNatMessage.Decode(bytes!);
    }
}
