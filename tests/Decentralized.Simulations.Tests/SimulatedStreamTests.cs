using Decentralized.Protocol;
using Decentralized.Protocol.Identity;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Tests;

/// <summary>The IPeerNetwork implementation: streams, negotiation, dials, crashes, partitions.</summary>
public sealed class SimulatedStreamTests
{
    private sealed class World
    {
        public World(int peers, long seed = 1, NetworkOptions? options = null)
        {
            Scheduler = new SimulationScheduler();
            Network = new SimulatedNetwork(Scheduler, options ?? new NetworkOptions { Jitter = TimeSpan.Zero }, new DeterministicRandom(seed));
            Peers = Enumerable.Range(0, peers).Select(i => Network.CreatePeer(new SimulatedHost(Scheduler, $"p{i}"))).ToArray();
        }

        public SimulationScheduler Scheduler { get; }
        public SimulatedNetwork Network { get; }
        public SimulatedPeerNetwork[] Peers { get; }

        public T Run<T>(SimulatedPeerNetwork on, Func<Task<T>> body)
        {
            var result = new TaskCompletionSource<T>();
            on.Host.Start(async () =>
            {
                try { result.SetResult(await body()); }
                catch (Exception e) { result.SetException(e); }
            });
            return Scheduler.RunUntilComplete(result.Task, TimeSpan.FromHours(1));
        }
    }

    private static void Echo(SimulatedPeerNetwork peer) => peer.SetStreamHandler("/echo/1", async (_, stream, ct) =>
    {
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0) await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        await stream.CloseWriteAsync(ct);
    });

    [Fact]
    public void Echo_round_trip_costs_dial_negotiation_and_data_round_trips()
    {
        var world = new World(2);
        var (a, b) = (world.Peers[0], world.Peers[1]);
        Echo(b);
        var (reply, elapsed) = world.Run(a, async () =>
        {
            var start = world.Scheduler.Now;
            await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
            var stream = await a.OpenStreamAsync(b.LocalPeer, "/echo/1", CancellationToken.None);
            await stream.WriteAsync("hello"u8.ToArray());
            await stream.CloseWriteAsync();
            var reply = new MemoryStream();
            await stream.CopyToAsync(reply);
            return (reply.ToArray(), world.Scheduler.Now - start);
        });
        Assert.Equal("hello"u8.ToArray(), reply);
        // 3 RTT dial + 1 RTT negotiation + 1 RTT echo at 100 ms RTT.
        Assert.InRange(elapsed.TotalMilliseconds, 499, 505);
        Assert.Contains(b.LocalPeer, a.ConnectedPeers);
        Assert.True(a.GetStats(b.LocalPeer)!.BytesSent > 5);
    }

    [Fact]
    public void Unknown_protocol_is_refused_with_a_typed_error()
    {
        var world = new World(2);
        var (a, b) = (world.Peers[0], world.Peers[1]);
        a.AddAddresses(b.LocalPeer, b.ListenAddresses);
        var error = world.Run(a, async () =>
        {
            try { await a.OpenStreamAsync(b.LocalPeer, "/nope/1", CancellationToken.None); return null; }
            catch (ProtocolException e) { return e; }
        });
        Assert.Equal(ProtocolErrorCode.ProtocolNotSupported, error!.Code);
    }

    [Fact]
    public void Dialing_the_wrong_peer_id_fails_with_peer_id_mismatch()
    {
        var world = new World(3);
        var address = world.Peers[1].ListenAddresses[0].WithoutPeerId().WithPeerId(world.Peers[2].LocalPeer);
        var error = world.Run(world.Peers[0], async () =>
        {
            try { await world.Peers[0].DialAsync(address, CancellationToken.None); return null; }
            catch (ProtocolException e) { return e; }
        });
        Assert.Equal(ProtocolErrorCode.PeerIdMismatch, error!.Code);
    }

    [Fact]
    public void A_crash_resets_the_partners_streams_and_disconnects()
    {
        var world = new World(2);
        var (a, b) = (world.Peers[0], world.Peers[1]);
        b.SetStreamHandler("/hold/1", async (_, stream, ct) => await Task.Delay(Timeout.InfiniteTimeSpan, b.Host.Time, ct));
        var disconnected = new List<PeerId>();
        a.PeerDisconnected += p => disconnected.Add(p);
        var error = world.Run(a, async () =>
        {
            await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
            var stream = await a.OpenStreamAsync(b.LocalPeer, "/hold/1", CancellationToken.None);
            world.Scheduler.Schedule(TimeSpan.FromSeconds(1), null, () => world.Network.Crash(b));
            try { await stream.ReadExactlyAsync(new byte[1]); return null; }
            catch (ProtocolException e) { return e; }
        });
        Assert.Equal(ProtocolErrorCode.ConnectionClosed, error!.Code);
        Assert.Equal(new[] { b.LocalPeer }, disconnected);
        Assert.Empty(a.ConnectedPeers);
    }

    [Fact]
    public void A_partition_breaks_connections_fails_dials_and_healing_lets_peers_reconnect()
    {
        var world = new World(2);
        var (a, b) = (world.Peers[0], world.Peers[1]);
        Echo(b);
        a.AddAddresses(b.LocalPeer, b.ListenAddresses);
        var outcome = world.Run(a, async () =>
        {
            await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
            world.Network.Partition(new[] { a });
            await Task.Delay(TimeSpan.FromSeconds(6), a.Host.Time);   // past the 5 s detection
            bool brokeConnection = a.ConnectedPeers.Count == 0;
            ProtocolErrorCode? dialError = null;
            try { await a.OpenStreamAsync(b.LocalPeer, "/echo/1", CancellationToken.None); }
            catch (ProtocolException e) { dialError = e.Code; }
            world.Network.Heal();
            var stream = await a.OpenStreamAsync(b.LocalPeer, "/echo/1", CancellationToken.None);
            await stream.WriteAsync(new byte[] { 42 });
            var one = new byte[1];
            await stream.ReadExactlyAsync(one);
            return (brokeConnection, dialError, one[0]);
        });
        Assert.True(outcome.brokeConnection);
        Assert.Equal(ProtocolErrorCode.DialFailed, outcome.dialError);
        Assert.Equal(42, outcome.Item3);
    }

    [Fact]
    public void Bulk_transfer_is_limited_by_bandwidth_and_counts_framing()
    {
        var world = new World(2, options: new NetworkOptions { Jitter = TimeSpan.Zero, UplinkBitsPerSecond = 8e6, DownlinkBitsPerSecond = 8e6 });
        var (a, b) = (world.Peers[0], world.Peers[1]);
        long received = 0;
        b.SetStreamHandler("/sink/1", async (_, stream, ct) =>
        {
            var buffer = new byte[65536];
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0) received += n;
        });
        a.AddAddresses(b.LocalPeer, b.ListenAddresses);
        var elapsed = world.Run(a, async () =>
        {
            var stream = await a.OpenStreamAsync(b.LocalPeer, "/sink/1", CancellationToken.None);
            var start = world.Scheduler.Now;
            await stream.WriteAsync(new byte[10_000_000]);   // 10 MB at 1 MB/s
            return world.Scheduler.Now - start;
        });
        world.Scheduler.RunUntilIdle();
        Assert.Equal(10_000_000, received);
        Assert.InRange(elapsed.TotalSeconds, 10.0, 10.1);
        Assert.InRange(a.GetStats(b.LocalPeer)!.BytesSent, 10_000_000, 10_010_000);
    }
}
