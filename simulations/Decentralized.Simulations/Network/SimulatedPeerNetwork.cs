using Decentralized.Protocol;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Network;

/// <summary>
/// One peer's view of the simulated network: the <see cref="IPeerNetwork"/> the swarm logic runs on, with the
/// libp2p host's semantics (one reused connection per peer, protocol-tagged streams, a failed negotiation throws
/// <see cref="ProtocolErrorCode.ProtocolNotSupported"/>, dials to unreachable peers time out with
/// <see cref="ProtocolErrorCode.DialFailed"/>) and costs from the network model (dial round trips, one round
/// trip per stream negotiation, framing overhead on every write).
/// </summary>
public sealed partial class SimulatedPeerNetwork : IPeerNetwork
{
    private readonly SimulatedNetwork _network;
    private readonly Dictionary<string, Func<PeerId, Stream, CancellationToken, Task>> _handlers = new(StringComparer.Ordinal);
    private readonly Dictionary<PeerId, SimulatedConnection> _connections = new();
    private readonly Dictionary<PeerId, List<Multiaddr>> _addressBook = new();
    private readonly Dictionary<PeerId, Task<SimulatedConnection>> _dialing = new();

    internal SimulatedPeerNetwork(SimulatedNetwork network, SimulatedHost host, int node, PrivateKey key, Multiaddr listenAddress)
    {
        _network = network;
        Host = host;
        Node = node;
        Key = key;
        LocalPeer = key.PeerId;
        ListenAddresses = new[] { listenAddress.WithPeerId(LocalPeer) };
        TransportAddress = listenAddress;
    }

    /// <summary>The simulated process this peer runs in.</summary>
    public SimulatedHost Host { get; }

    /// <summary>The peer's node in the flow model.</summary>
    public int Node { get; }

    /// <summary>The peer's identity key.</summary>
    public PrivateKey Key { get; }

    /// <inheritdoc />
    public PeerId LocalPeer { get; }

    /// <inheritdoc />
    public IReadOnlyList<Multiaddr> ListenAddresses { get; }

    /// <summary>The listen address without the /p2p/ part.</summary>
    public Multiaddr TransportAddress { get; }

    /// <summary>False after the peer left (disposed) or crashed.</summary>
    public bool IsRunning { get; private set; } = true;

    /// <summary>Exceptions that escaped stream handlers (the real host logs and drops them).</summary>
    public int HandlerFailures { get; private set; }

    /// <inheritdoc />
    /// <remarks>In connection order (never hash order), so code that iterates it behaves the same in every run.</remarks>
    public IReadOnlyCollection<PeerId> ConnectedPeers => _connections.OrderBy(kv => kv.Value.Id).Select(kv => kv.Key).ToArray();

    /// <inheritdoc />
    public event Action<PeerId>? PeerConnected;

    /// <inheritdoc />
    public event Action<PeerId>? PeerDisconnected;

    /// <inheritdoc />
    public void SetStreamHandler(string protocolId, Func<PeerId, Stream, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[protocolId] = handler;
    }

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses)
    {
        if (!_addressBook.TryGetValue(peer, out var list)) _addressBook[peer] = list = new List<Multiaddr>();
        foreach (var a in addresses)
            if (!list.Contains(a)) list.Add(a);
    }

    /// <inheritdoc />
    public ConnectionStats? GetStats(PeerId peer) =>
        _connections.TryGetValue(peer, out var c) ? c.Stats(c.SideOf(this)) : null;

    /// <summary>Leaves gracefully: every connection closes (the remote notices after one-way latency) and the address stops answering.</summary>
    public ValueTask DisposeAsync()
    {
        if (!IsRunning) return ValueTask.CompletedTask;
        IsRunning = false;
        foreach (var c in Connections.ToArray())
        {
            int side = c.SideOf(this);
            var latency = _network.Flow.LinkLatency(c.End(0).Node, c.End(1).Node);
            c.CloseSide(side, "the peer closed the connection");
            c.Break("the peer closed the connection", side == 0 ? null : latency, side == 1 ? null : latency);
        }
        _network.Detach(this);
        return ValueTask.CompletedTask;
    }

    internal void MarkCrashed() => IsRunning = false;

    internal IEnumerable<SimulatedConnection> Connections => _connections.Values.OrderBy(c => c.Id);

    internal void OnConnectionClosed(SimulatedConnection connection)
    {
        var remote = connection.End(1 - connection.SideOf(this)).LocalPeer;
        if (_connections.TryGetValue(remote, out var current) && ReferenceEquals(current, connection))
        {
            _connections.Remove(remote);
            PeerDisconnected?.Invoke(remote);
        }
    }

    internal void OnConnectionOpened(SimulatedConnection connection)
    {
        var remote = connection.End(1 - connection.SideOf(this)).LocalPeer;
        _connections[remote] = connection;
        PeerConnected?.Invoke(remote);
    }

    internal bool TryGetConnection(PeerId peer, out SimulatedConnection connection) => _connections.TryGetValue(peer, out connection!);

    /// <summary>Runs an inbound stream's handler as this peer's code; the stream is disposed when it returns.</summary>
    internal bool TryAccept(SimulatedConnection connection, SimulatedStream stream)
    {
        if (!IsRunning || !_handlers.TryGetValue(stream.ProtocolId, out var handler)) return false;
        int side = connection.SideOf(this);
        var remote = connection.End(1 - side).LocalPeer;
        var token = connection.ClosingToken(side);
        connection.Track(side, stream);
        _ = Host.Start(async () =>
        {
            try
            {
                await handler(remote, stream, token);
            }
            catch (Exception)
            {
                HandlerFailures++;
            }
            finally
            {
                await stream.DisposeAsync();
            }
        });
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Host.Name} ({LocalPeer})";
}
