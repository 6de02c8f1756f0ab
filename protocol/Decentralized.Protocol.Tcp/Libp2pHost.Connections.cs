using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Network;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly object _connectionsLock = new();
    private readonly Dictionary<PeerId, List<PeerConnection>> _connections = new();
    private int _connectionCount;
    private ITimer? _idleTimer;

    /// <inheritdoc />
    public IReadOnlyCollection<PeerId> ConnectedPeers
    {
        get { lock (_connectionsLock) { return [.. _connections.Keys]; } }
    }

    private long _closedDirectBytes;
    private long _closedRelayedBytes;

    // Closed connections' traffic per peer (guarded by _connectionsLock); at most Options.RememberedPeersMax departed
    // peers, the longest gone forgotten first.
    private readonly Dictionary<PeerId, (long In, long Out, long Relayed, long ClosedAt)> _closedTraffic = new();
    private long _closures;

    /// <summary>Bytes carried so far (in + out, closed connections included) over direct and over relayed connections.</summary>
    public (long Direct, long Relayed) TrafficTotals
    {
        get
        {
            var open = AllConnections();
            return (Interlocked.Read(ref _closedDirectBytes) + open.Where(c => !c.IsRelayed).Sum(c => c.Counter.BytesRead + c.Counter.BytesWritten),
                Interlocked.Read(ref _closedRelayedBytes) + open.Where(c => c.IsRelayed).Sum(c => c.Counter.BytesRead + c.Counter.BytesWritten));
        }
    }

    /// <summary>Per peer connected now or since departed (see <see cref="Libp2pHostOptions.RememberedPeersMax"/>), bytes over its open and closed connections.</summary>
    public IReadOnlyList<PeerTraffic> TrafficByPeer
    {
        get
        {
            lock (_connectionsLock)
            {
                return [.. _connections.Keys.Union(_closedTraffic.Keys).Select(peer =>
                {
                    var closed = _closedTraffic.GetValueOrDefault(peer);
                    var open = _connections.GetValueOrDefault(peer) ?? [];
                    return new PeerTraffic(peer, closed.In + open.Sum(c => c.Counter.BytesRead), closed.Out + open.Sum(c => c.Counter.BytesWritten),
                        closed.Relayed + open.Where(c => c.IsRelayed).Sum(c => c.Counter.BytesRead + c.Counter.BytesWritten), open.Count > 0);
                })];
            }
        }
    }

    /// <summary>Established connections in total.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>True if at least one connection to <paramref name="peer"/> is open.</summary>
    public bool IsConnected(PeerId peer) => GetConnection(peer) is not null;

    /// <inheritdoc />
    public ConnectionStats? GetStats(PeerId peer)
    {
        PeerConnection[] connections;
        lock (_connectionsLock)
        {
            if (!_connections.TryGetValue(peer, out var list))
            {
                return null;
            }
            connections = [.. list];
        }
        var rtt = connections.Select(c => c.Session.RoundTripTime).FirstOrDefault(r => r is not null);
        // Relayed means "no direct connection": once hole punching succeeds, traffic moves to the direct one.
        return new ConnectionStats(connections.Sum(c => c.Counter.BytesRead), connections.Sum(c => c.Counter.BytesWritten),
            IsRelayed: connections.All(c => c.IsRelayed), rtt, connections.Length,
            RelayedBytes: connections.Where(c => c.IsRelayed).Sum(c => c.Counter.BytesRead + c.Counter.BytesWritten));
    }

    /// <summary>Closes every connection to <paramref name="peer"/> (GoAway, then close).</summary>
    public async Task DisconnectAsync(PeerId peer)
    {
        PeerConnection[] connections;
        lock (_connectionsLock)
        {
            connections = _connections.TryGetValue(peer, out var list) ? [.. list] : [];
        }
        await Task.WhenAll(connections.Select(c => CloseConnectionAsync(c, "disconnect requested"))).ConfigureAwait(false);
    }

    private PeerConnection? GetConnection(PeerId peer)
    {
        lock (_connectionsLock)
        {
            // Prefer a direct connection: bulk traffic must not go through a relay once a direct path exists.
            return _connections.TryGetValue(peer, out var list)
                ? list.Where(c => !c.Session.IsClosed).OrderBy(c => c.IsRelayed).FirstOrDefault()
                : null;
        }
    }

    private PeerConnection[] AllConnections()
    {
        lock (_connectionsLock)
        {
            return [.. _connections.Values.SelectMany(l => l)];
        }
    }

    /// <summary>
    /// Adds an upgraded connection, enforcing the limits, and starts serving it. When the peer already has its maximum
    /// of connections, a new outbound one is dropped in favour of an existing one (returned), an inbound one refused.
    /// </summary>
    private PeerConnection Register(PeerConnection connection)
    {
        bool first;
        lock (_connectionsLock)
        {
            _connections.TryGetValue(connection.RemotePeer, out var list);
            // Relayed and direct connections count separately: a hole-punched direct connection must never be refused
            // because relayed ones already fill the per-peer quota.
            var perPeerFull = list?.Count(c => c.IsRelayed == connection.IsRelayed) >= _options.MaxConnectionsPerPeer
                && !(!connection.IsInitiator && AwaitsDialBack(connection.RemotePeer));
            var refusal = _connectionCount >= _options.MaxConnections ? $"{_options.MaxConnections} connections open"
                : perPeerFull ? $"{_options.MaxConnectionsPerPeer} connections to this peer already open"
                : Volatile.Read(ref _disposed) != 0 ? "host disposed"
                : null;
            if (refusal is not null)
            {
                connection.Session.Abort(new ProtocolException(ProtocolErrorCode.ConnectionLimitExceeded, refusal));
                if (perPeerFull && connection.IsInitiator && list!.FirstOrDefault(c => !c.Session.IsClosed) is { } existing)
                {
                    return existing;
                }
                throw new ProtocolException(ProtocolErrorCode.ConnectionLimitExceeded, $"refusing {connection}: {refusal}");
            }
            if (list is null)
            {
                list = [];
                _connections[connection.RemotePeer] = list;
            }
            list.Add(connection);
            first = list.Count == 1;
            _connectionCount++;
        }
        _log.LogInformation("Connected {Connection}", connection);
        AddAddressesCore(connection.RemotePeer, connection.IsInitiator ? [connection.RemoteAddress] : [], explicitAdd: false);
        _ = AcceptStreamsAsync(connection);
        _ = MonitorAsync(connection);
        if (first)
        {
            RaiseSafely(PeerConnected, connection.RemotePeer);
        }
        _ = IdentifyAsync(connection);
        return connection;
    }

    /// <summary>An open outbound connection made to exactly <paramref name="address"/> (for addresses without /p2p/).</summary>
    private PeerConnection? FindOutboundTo(Multiaddr address)
    {
        lock (_connectionsLock)
        {
            return _connections.Values.SelectMany(l => l).FirstOrDefault(c => c.IsInitiator && !c.Session.IsClosed && c.RemoteAddress.Equals(address));
        }
    }

    private async Task MonitorAsync(PeerConnection connection)
    {
        await connection.Session.Completion.ConfigureAwait(false);
        connection.MarkClosed();
        bool last;
        lock (_connectionsLock)
        {
            last = false;
            if (_connections.TryGetValue(connection.RemotePeer, out var list) && list.Remove(connection))
            {
                _connectionCount--;
                Interlocked.Add(ref connection.IsRelayed ? ref _closedRelayedBytes : ref _closedDirectBytes, connection.Counter.BytesRead + connection.Counter.BytesWritten);
                if (list.Count == 0)
                {
                    _connections.Remove(connection.RemotePeer);
                    last = true;
                }
                RememberClosedTraffic(connection);
            }
        }
        var reason = connection.Session.CloseReason;
        if (reason is ProtocolException { Code: not (ProtocolErrorCode.ConnectionClosed or ProtocolErrorCode.UnexpectedEndOfStream) } p)
        {
            _log.LogWarning("Closed {Connection} ({Code}): {Reason}", connection, p.Code, p.Message);
        }
        else
        {
            _log.LogInformation("Closed {Connection}: {Reason}", connection, reason?.Message);
        }
        if (last)
        {
            RaiseSafely(PeerDisconnected, connection.RemotePeer);
        }
    }

    /// <summary>
    /// Adds a closed connection's bytes to its peer's record, then forgets the peer gone longest while more than
    /// <see cref="Libp2pHostOptions.RememberedPeersMax"/> departed peers are remembered (under <c>_connectionsLock</c>,
    /// after the connection left <c>_connections</c>).
    /// </summary>
    private void RememberClosedTraffic(PeerConnection connection)
    {
        var (read, written) = (connection.Counter.BytesRead, connection.Counter.BytesWritten);
        var before = _closedTraffic.GetValueOrDefault(connection.RemotePeer);
        _closedTraffic[connection.RemotePeer] = (before.In + read, before.Out + written,
            before.Relayed + (connection.IsRelayed ? read + written : 0), ++_closures);
        var departed = _closedTraffic.Where(e => !_connections.ContainsKey(e.Key)).ToArray();
        if (departed.Length > _options.RememberedPeersMax) _closedTraffic.Remove(departed.MinBy(e => e.Value.ClosedAt).Key);
    }

    private async Task AcceptStreamsAsync(PeerConnection connection)
    {
        while (true)
        {
            YamuxStream stream;
            try
            {
                stream = await connection.Session.AcceptStreamAsync(connection.Closed).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return;
            }
            _ = HandleInboundStreamAsync(connection, stream);
        }
    }

    private async Task HandleInboundStreamAsync(PeerConnection connection, YamuxStream stream)
    {
        string? protocol = null;
        var entered = false;
        try
        {
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed))
            using (var timer = _time.CreateTimer(_ => deadline.Cancel(), null, _options.StreamNegotiationTimeout, Timeout.InfiniteTimeSpan))
            {
                protocol = await MultistreamSelect.ListenAsync(stream, _handlerProtocols, deadline.Token, _options.MaxMultistreamMessageBytes)
                    .ConfigureAwait(false);
            }
            if (!_handlers.TryGetValue(protocol, out var handler))
            {
                stream.Reset();
                return;
            }
            entered = connection.TryEnterProtocol(protocol, _options.MaxInboundStreamsPerProtocol);
            if (!entered)
            {
                _log.LogWarning("Resetting stream from {Peer}: more than {Limit} inbound {Protocol} streams",
                    connection.RemotePeer, _options.MaxInboundStreamsPerProtocol, protocol);
                stream.Reset();
                return;
            }
            await handler(connection.RemotePeer, stream, connection.Closed).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogDebug("Inbound stream {Protocol} from {Peer} ended with an error: {Reason}", protocol ?? "(negotiating)", connection.RemotePeer, e.Message);
            stream.Reset();
        }
        finally
        {
            if (entered)
            {
                connection.ExitProtocol(protocol!);
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task CloseConnectionAsync(PeerConnection connection, string reason)
    {
        _log.LogDebug("Closing {Connection}: {Reason}", connection, reason);
        using var timeout = new CancellationTokenSource(CloseTimeout, _time);
        await connection.Session.CloseAsync(YamuxGoAwayCode.Normal, timeout.Token).ConfigureAwait(false);
    }

    private void StartIdleSweep()
    {
        if (_options.IdleTimeout == Timeout.InfiniteTimeSpan || _idleTimer is not null)
        {
            return;
        }
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, Math.Min(_options.IdleTimeout.Ticks / 4, TimeSpan.TicksPerMinute)));
        _idleTimer = _time.CreateTimer(_ => SweepIdle(), null, period, period);
    }

    private void SweepIdle()
    {
        foreach (var connection in AllConnections())
        {
            if (connection.Session.IdleTime >= _options.IdleTimeout)
            {
                _ = CloseConnectionAsync(connection, $"idle for {_options.IdleTimeout}");
            }
        }
    }

    private void RaiseSafely(Action<PeerId>? handler, PeerId peer)
    {
        try
        {
            handler?.Invoke(peer);
        }
        catch (Exception e)
        {
            _log.LogError(e, "Peer event handler failed for {Peer}", peer);
        }
    }
}
