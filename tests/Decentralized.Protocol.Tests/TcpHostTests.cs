using System.Net.Sockets;
using System.Security.Cryptography;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests;

public sealed class TcpHostTests
{
    private const string EchoProtocol = "/test/echo/1.0.0";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DialIdentifiesBothSidesAndReusesTheConnection()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        var identified = new TaskCompletionSource<IdentifyMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        a.PeerIdentified += (peer, message) => { if (peer == b.LocalPeer) identified.TrySetResult(message); };

        var peer = await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        Assert.Equal(b.LocalPeer, peer);
        var info = await identified.Task.WaitAsync(Limit);
        Assert.Equal("ipfs/0.1.0", info.ProtocolVersion);
        Assert.Contains(IdentifyMessage.ProtocolId, info.Protocols);
        Assert.Contains(b.ListenAddresses[0].WithoutPeerId(), info.ListenAddresses);
        Assert.Equal(b.LocalPeer, info.PublicKey!.ToPeerId());

        Assert.Equal(peer, await a.DialAsync(b.ListenAddresses[0], CancellationToken.None));
        Assert.Equal(1, a.GetStats(b.LocalPeer)!.ConnectionCount);
        Assert.Contains(a.LocalPeer, b.ConnectedPeers);
    }

    [Fact]
    public async Task PingMeasuresARoundTrip()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        var rtt = await a.PingAsync(b.LocalPeer, CancellationToken.None).WaitAsync(Limit);
        Assert.InRange(rtt, TimeSpan.Zero, Limit);
        Assert.True(a.GetStats(b.LocalPeer)!.BytesSent > 0);
    }

    [Fact]
    public async Task SixtyFourMebibytesArriveIntactOnACustomProtocol()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        var received = new TaskCompletionSource<(long, byte[])>(TaskCreationOptions.RunContinuationsAsynchronously);
        b.SetStreamHandler("/test/bulk/1.0.0", async (peer, stream, ct) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }
            received.TrySetResult((total, hash.GetHashAndReset()));
        });
        var data = new byte[64 << 20];
        new Random(64).NextBytes(data);
        a.AddAddresses(b.LocalPeer, b.ListenAddresses);
        var stream = await a.OpenStreamAsync(b.LocalPeer, "/test/bulk/1.0.0", CancellationToken.None).WaitAsync(Limit);
        await stream.WriteAsync(data).AsTask().WaitAsync(Limit);
        await stream.CloseWriteAsync();
        var (count, digest) = await received.Task.WaitAsync(Limit);
        Assert.Equal(data.Length, count);
        Assert.Equal(SHA256.HashData(data), digest);
    }

    [Fact]
    public async Task OpenStreamDialsAKnownAddressAndEchoes()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        b.SetStreamHandler(EchoProtocol, EchoAsync);
        a.AddAddresses(b.LocalPeer, b.ListenAddresses);
        await using var stream = await a.OpenStreamAsync(b.LocalPeer, EchoProtocol, CancellationToken.None).WaitAsync(Limit);
        await stream.WriteAsync("ping over echo"u8.ToArray());
        await stream.CloseWriteAsync();
        var reply = new MemoryStream();
        await stream.CopyToAsync(reply);
        Assert.Equal("ping over echo"u8.ToArray(), reply.ToArray());
    }

    [Fact]
    public async Task UnsupportedProtocolFailsWithNotSupported()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        var error = await Assert.ThrowsAsync<ProtocolException>(() => a.OpenStreamAsync(b.LocalPeer, "/nope/1.0.0", CancellationToken.None));
        Assert.Equal(ProtocolErrorCode.ProtocolNotSupported, error.Code);
    }

    [Fact]
    public async Task DialingAnAddressWithTheWrongPeerIdFails()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        var wrong = PrivateKey.FromSeed(Enumerable.Repeat((byte)3, 32).ToArray()).PeerId;
        var address = b.ListenAddresses[0].WithPeerId(wrong);
        var error = await Assert.ThrowsAsync<ProtocolException>(() => a.DialAsync(address, CancellationToken.None));
        Assert.Equal(ProtocolErrorCode.PeerIdMismatch, error.Code);
        Assert.Empty(a.ConnectedPeers);
    }

    [Fact]
    public async Task GateRejectionClosesTheConnectionWithItsReason()
    {
        var log = new TestLog();
        Tcp.Libp2pHostOptions Gate(Tcp.Libp2pHostOptions o, string secret) => o with
        {
            ConnectionGate = async (peer, stream, initiator, ct) =>
            {
                await stream.WriteLengthPrefixedAsync(System.Text.Encoding.UTF8.GetBytes(secret), ct);
                var theirs = await stream.ReadLengthPrefixedAsync(64, ct);
                if (theirs is null || System.Text.Encoding.UTF8.GetString(theirs) != secret)
                {
                    throw new InvalidOperationException("swarm key mismatch");
                }
            },
        };
        await using var a = await HostFixture.StartAsync(1, o => Gate(o, "alpha"), log);
        await using var b = await HostFixture.StartAsync(2, o => Gate(o, "alpha"));
        await using var c = await HostFixture.StartAsync(3, o => Gate(o, "beta"), log);
        Assert.Equal(b.LocalPeer, await a.DialAsync(b.ListenAddresses[0], CancellationToken.None));
        // Whichever side notices first hangs up; the other may see its gate fail or the connection drop under it.
        var error = await Assert.ThrowsAsync<ProtocolException>(() => a.DialAsync(c.ListenAddresses[0], CancellationToken.None));
        Assert.Contains(error.Code, new[] { ProtocolErrorCode.GateRejected, ProtocolErrorCode.ConnectionClosed, ProtocolErrorCode.UnexpectedEndOfStream });
        Assert.DoesNotContain(c.LocalPeer, a.ConnectedPeers);
        Assert.DoesNotContain(a.LocalPeer, c.ConnectedPeers);
        Assert.Contains("GateRejected", await log.WaitForAsync(l => l.Contains("swarm key mismatch")).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task PeerEventsFireOnConnectAndDisconnect()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        var connected = new TaskCompletionSource<PeerId>(TaskCreationOptions.RunContinuationsAsynchronously);
        var disconnected = new TaskCompletionSource<PeerId>(TaskCreationOptions.RunContinuationsAsynchronously);
        b.PeerConnected += p => connected.TrySetResult(p);
        b.PeerDisconnected += p => disconnected.TrySetResult(p);
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        Assert.Equal(a.LocalPeer, await connected.Task.WaitAsync(Limit));
        await a.DisconnectAsync(b.LocalPeer);
        Assert.Equal(a.LocalPeer, await disconnected.Task.WaitAsync(Limit));
    }

    [Fact]
    public async Task APeersTrafficIsRememberedAfterItsConnectionClosesAndAddsUpOverReconnects()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        async Task<long> ExchangeAndDisconnectAsync()
        {
            var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnGone(PeerId p) { if (p == b.LocalPeer) gone.TrySetResult(); }
            a.PeerDisconnected += OnGone;
            await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
            await a.PingAsync(b.LocalPeer, CancellationToken.None).WaitAsync(Limit);
            long sent = a.GetStats(b.LocalPeer)!.BytesSent;
            await a.DisconnectAsync(b.LocalPeer);
            await gone.Task.WaitAsync(Limit);
            a.PeerDisconnected -= OnGone;
            return sent;
        }

        long first = await ExchangeAndDisconnectAsync();
        Assert.Null(a.GetStats(b.LocalPeer));   // open connections only: this is what the per-peer record is for
        var afterFirst = Assert.Single(a.TrafficByPeer);
        Assert.Equal(b.LocalPeer, afterFirst.Peer);
        Assert.False(afterFirst.Connected);
        Assert.True(afterFirst.BytesSent >= first && afterFirst.BytesReceived > 0, afterFirst.ToString());
        Assert.Equal(afterFirst.BytesSent + afterFirst.BytesReceived, afterFirst.DirectBytes);

        long second = await ExchangeAndDisconnectAsync();
        var afterSecond = Assert.Single(a.TrafficByPeer);
        Assert.True(afterSecond.BytesSent >= afterFirst.BytesSent + second, $"{afterFirst} then {afterSecond}");
        Assert.Equal(0, afterSecond.RelayedBytes);
    }

    [Fact]
    public async Task OnlyTheMostRecentlyDepartedPeersTrafficIsKeptBeyondTheBound()
    {
        await using var a = await HostFixture.StartAsync(1, o => o with { RememberedPeersMax = 2 });
        var order = new List<PeerId>();
        for (byte seed = 2; seed <= 4; seed++)
        {
            await using var b = await HostFixture.StartAsync(seed);
            var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            a.PeerDisconnected += p => { if (p == b.LocalPeer) gone.TrySetResult(); };
            await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
            await a.DisconnectAsync(b.LocalPeer);
            await gone.Task.WaitAsync(Limit);
            order.Add(b.LocalPeer);
        }
        // Three peers came and went with room for two: the first is forgotten, the last two remain with their bytes.
        Assert.Equal(order.Skip(1).OrderBy(p => p.ToString()), a.TrafficByPeer.Select(t => t.Peer).OrderBy(p => p.ToString()));
        Assert.All(a.TrafficByPeer, t => Assert.True(t.BytesSent > 0 && !t.Connected, t.ToString()));
    }

    [Fact]
    public void KeyFileIsCreatedOwnerOnlyAndReused()
    {
        var directory = Directory.CreateTempSubdirectory("keyfile-test");
        try
        {
            var path = Path.Combine(directory.FullName, "sub", "identity.key");
            var first = KeyFile.LoadOrCreate(path);
            var second = KeyFile.LoadOrCreate(path);
            Assert.Equal(first.PeerId, second.PeerId);
            Assert.Equal(68, new FileInfo(path).Length);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Equal(ProtocolErrorCode.InvalidKey, Assert.Throws<ProtocolException>(() => KeyFile.LoadOrCreate(path)).Code);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    internal static async Task EchoAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        await stream.CloseWriteAsync(ct);
    }
}
