using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;

namespace Decentralized.Protocol.Tests;

public sealed class TcpHostLimitTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SilentConnectionIsClosedAfterTheHandshakeTimeout()
    {
        var log = new TestLog();
        await using var host = await HostFixture.StartAsync(2, o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(500) }, log);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port(host.ListenAddresses[0])));
        var buffer = new byte[64];
        // Whatever the host sent first, it must hang up by itself.
        var closed = Task.Run(async () =>
        {
            try
            {
                while (await socket.ReceiveAsync(buffer) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
        });
        await closed.WaitAsync(Limit);
        Assert.Contains("Timeout", await log.WaitForAsync(l => l.Contains("Handshake")).WaitAsync(Limit));
    }

    [Fact]
    public async Task SilentSocketsFromManySourcesCannotLockOutARealPeer()
    {
        // Issue 26 item 2: 40 silent sockets (5 sources x 8) against 32 pending slots used to refuse every newcomer.
        await using var host = await HostFixture.StartAsync(2);
        var port = Port(host.ListenAddresses[0]);
        var silent = new List<Socket>();
        try
        {
            for (int source = 2; source <= 6; source++)
            {
                for (int i = 0; i < 8; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{source}"), 0));
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                    silent.Add(socket);
                }
            }
            await using var peer = await HostFixture.StartAsync(1);
            Assert.Equal(host.LocalPeer, await peer.DialAsync(host.ListenAddresses[0], CancellationToken.None).WaitAsync(Limit));
        }
        finally
        {
            silent.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task OneSourceHoldsAtMostItsShareOfThePendingHandshakes()
    {
        await using var host = await HostFixture.StartAsync(2, o => o with { MaxPendingInboundHandshakesPerAddress = 3 });
        var port = Port(host.ListenAddresses[0]);
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < 10; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                sockets.Add(socket);
            }
            // Each newcomer beyond 3 closes the oldest silent one from the same source: 7 of the 10 are hung up on.
            var buffer = new byte[1];
            var closed = 0;
            foreach (var socket in sockets)
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    if (await socket.ReceiveAsync(buffer, wait.Token) == 0)
                    {
                        closed++;
                    }
                }
                catch (OperationCanceledException)
                {
                }
                catch (SocketException)
                {
                    closed++;
                }
            }
            Assert.Equal(7, closed);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task IdleConnectionIsClosed()
    {
        await using var a = await HostFixture.StartAsync(1, o => o with { IdleTimeout = TimeSpan.FromSeconds(1) });
        await using var b = await HostFixture.StartAsync(2);
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.PeerDisconnected += _ => gone.TrySetResult();
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        await gone.Task.WaitAsync(Limit);
        Assert.Empty(a.ConnectedPeers);
    }

    [Fact]
    public async Task DnsAddressesAreResolvedAndDialed()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        var dns = Multiaddr.Parse($"/dns4/localhost/tcp/{Port(b.ListenAddresses[0])}/p2p/{b.LocalPeer}");
        Assert.Equal(b.LocalPeer, await a.DialAsync(dns, CancellationToken.None).WaitAsync(Limit));
    }

    [Fact]
    public async Task SimultaneousDialsInBothDirectionsLeaveUsablePeers()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2);
        b.SetStreamHandler("/test/echo/1.0.0", TcpHostTests.EchoAsync);
        var dials = new[]
        {
            a.DialAsync(b.ListenAddresses[0], CancellationToken.None),
            b.DialAsync(a.ListenAddresses[0], CancellationToken.None),
            a.DialAsync(b.ListenAddresses[0], CancellationToken.None),
        };
        await Task.WhenAll(dials).WaitAsync(Limit);
        Assert.InRange(a.GetStats(b.LocalPeer)!.ConnectionCount, 1, 2);
        await using var stream = await a.OpenStreamAsync(b.LocalPeer, "/test/echo/1.0.0", CancellationToken.None);
        await stream.WriteAsync(new byte[] { 42 });
        await stream.CloseWriteAsync();
        var back = new MemoryStream();
        await stream.CopyToAsync(back);
        Assert.Equal(new byte[] { 42 }, back.ToArray());
    }

    [Fact]
    public async Task StreamsBeyondThePerProtocolLimitAreReset()
    {
        await using var a = await HostFixture.StartAsync(1);
        await using var b = await HostFixture.StartAsync(2, o => o with { MaxInboundStreamsPerProtocol = 2 });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        b.SetStreamHandler("/test/hold/1.0.0", async (_, stream, ct) => await release.Task.WaitAsync(ct));
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        var held = new List<Stream>();
        for (var i = 0; i < 2; i++)
        {
            held.Add(await a.OpenStreamAsync(b.LocalPeer, "/test/hold/1.0.0", CancellationToken.None));
        }
        // The third is reset by the limit (during or right after negotiation): it fails instead of hanging.
        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
        {
            var third = await a.OpenStreamAsync(b.LocalPeer, "/test/hold/1.0.0", CancellationToken.None);
            await third.ReadAsync(new byte[1]).AsTask().WaitAsync(Limit);
        });
        Assert.Equal(ProtocolErrorCode.StreamReset, error.Code);
        release.SetResult();
        foreach (var stream in held)
        {
            await stream.DisposeAsync();
        }
    }

    private static int Port(Multiaddr address) => int.Parse(address.Components[1].ValueText);
}
