using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Network;

/// <summary>
/// The simulated internet: creates peers (each an <see cref="Protocol.Network.IPeerNetwork"/> on its own
/// <see cref="SimulatedHost"/>), resolves their addresses, and injects faults: crashes (the peer's process stops
/// and its connections reset), graceful departures, and partitions (crossing connections are reset after
/// <see cref="NetworkOptions.PartitionDetection"/>; dials across them time out). Peer keys come from the seed, so
/// peer IDs, and everything ordered by them, replay.
/// </summary>
public sealed class SimulatedNetwork
{
    private readonly DeterministicRandom _keys;
    private readonly Dictionary<Multiaddr, SimulatedPeerNetwork> _byAddress = new();
    private readonly Dictionary<PeerId, SimulatedPeerNetwork> _byPeer = new();
    private int _nextAddress;
    private long _nextConnection;

    /// <summary>Creates an empty network; jitter, loss and keys are drawn from forks of <paramref name="random"/>.</summary>
    public SimulatedNetwork(SimulationScheduler scheduler, NetworkOptions options, DeterministicRandom random)
    {
        Scheduler = scheduler;
        Options = options.Validate();
        Flow = new FlowNetwork(scheduler, Options, random.Fork("network"));
        _keys = random.Fork("keys");
    }

    /// <summary>The event loop.</summary>
    public SimulationScheduler Scheduler { get; }

    /// <summary>The model's knobs.</summary>
    public NetworkOptions Options { get; }

    /// <summary>The flow model underneath (link capacities, byte counters).</summary>
    public FlowNetwork Flow { get; }

    /// <summary>Peers currently attached (not left, not crashed).</summary>
    public IReadOnlyCollection<SimulatedPeerNetwork> Peers => _byPeer.Values.OrderBy(p => p.Node).ToArray();

    /// <summary>
    /// Adds a peer running in <paramref name="host"/>. <paramref name="key"/> defaults to a key drawn from the seed;
    /// pass a previous incarnation's key to rejoin under the same identity.
    /// </summary>
    public SimulatedPeerNetwork CreatePeer(SimulatedHost host, PrivateKey? key = null, double? uplinkBitsPerSecond = null, double? downlinkBitsPerSecond = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (key is null)
        {
            var seed = new byte[PrivateKey.SeedSize];
            _keys.NextBytes(seed);
            key = PrivateKey.FromSeed(seed);
        }
        if (_byPeer.TryGetValue(key.PeerId, out var previous) && previous.IsRunning)
            throw new InvalidOperationException($"peer {key.PeerId} is already running");
        int n = _nextAddress++;
        var address = Multiaddr.Parse($"/ip4/10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/tcp/4001");
        int node = Flow.AddNode(host, uplinkBitsPerSecond, downlinkBitsPerSecond);
        var peer = new SimulatedPeerNetwork(this, host, node, key, address);
        _byAddress[address] = peer;
        _byPeer[key.PeerId] = peer;
        host.Crashed += _ => OnHostCrashed(peer);
        return peer;
    }

    /// <summary>The running peer listening at <paramref name="transportAddress"/> (without /p2p/), if any.</summary>
    public SimulatedPeerNetwork? Resolve(Multiaddr transportAddress) =>
        _byAddress.TryGetValue(transportAddress, out var peer) && peer.IsRunning ? peer : null;

    /// <summary>The running peer with ID <paramref name="peer"/>, if any.</summary>
    public SimulatedPeerNetwork? Find(PeerId peer) => _byPeer.TryGetValue(peer, out var p) && p.IsRunning ? p : null;

    /// <summary>Crashes the peer's process: its code stops at once; the other ends see their connections reset after one-way latency.</summary>
    public void Crash(SimulatedPeerNetwork peer) => peer.Host.Crash();

    /// <summary>
    /// Splits the peers into groups that cannot reach each other (peers not listed form one more group).
    /// Connections across the split are reset on both sides after <see cref="NetworkOptions.PartitionDetection"/>.
    /// </summary>
    public void Partition(params IEnumerable<SimulatedPeerNetwork>[] groups)
    {
        Flow.Partition(groups.Select(g => g.Select(p => p.Node)));
        foreach (var peer in Peers.Where(p => p.IsRunning))
            foreach (var c in peer.Connections.ToArray())
            {
                if (c.SideOf(peer) != 0 || Flow.CanReach(c.End(0).Node, c.End(1).Node)) continue;
                c.Break("the connection timed out (network partition)", Options.PartitionDetection, Options.PartitionDetection);
            }
    }

    /// <summary>Ends every partition; new dials succeed again (broken connections stay broken).</summary>
    public void Heal() => Flow.Heal();

    internal long NextConnectionId() => _nextConnection++;

    internal void Detach(SimulatedPeerNetwork peer)
    {
        Flow.SetUp(peer.Node, false);
        if (_byAddress.TryGetValue(peer.TransportAddress, out var p) && ReferenceEquals(p, peer)) _byAddress.Remove(peer.TransportAddress);
        if (_byPeer.TryGetValue(peer.LocalPeer, out p) && ReferenceEquals(p, peer)) _byPeer.Remove(peer.LocalPeer);
    }

    private void OnHostCrashed(SimulatedPeerNetwork peer)
    {
        if (!peer.IsRunning) return;
        peer.MarkCrashed();
        foreach (var c in peer.Connections.ToArray())
        {
            int side = c.SideOf(peer);
            var latency = Flow.LinkLatency(c.End(0).Node, c.End(1).Node);
            // The crashed side runs no more code; the kernel's reset reaches the other side after one-way latency.
            c.Break("connection reset by peer (crash)", side == 0 ? null : latency, side == 1 ? null : latency);
        }
        Detach(peer);
    }
}
