using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Nat;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private const int MaxAddressBookPeers = 4096;

    private readonly ConcurrentDictionary<string, Lazy<Task<PeerConnection>>> _pendingDials = new(StringComparer.Ordinal);
    private readonly object _addressLock = new();
    private readonly Dictionary<PeerId, List<Multiaddr>> _addressBook = new();

    /// <inheritdoc />
    public async Task<PeerId> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var connection = await DialConnectionAsync(address, cancellationToken).ConfigureAwait(false);
        return connection.RemotePeer;
    }

    /// <inheritdoc />
    public async Task<Stream> OpenStreamAsync(PeerId peer, string protocolId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        var connection = GetConnection(peer) ?? await DialPeerAsync(peer, cancellationToken).ConfigureAwait(false);
        var stream = connection.Session.OpenStream();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connection.Closed);
            using var timer = _time.CreateTimer(_ => deadline.Cancel(), null, _options.StreamNegotiationTimeout, Timeout.InfiniteTimeSpan);
            await MultistreamSelect.SelectAsync(stream, [protocolId], deadline.Token, _options.MaxMultistreamMessageBytes).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            stream.Reset();
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses) => AddAddressesCore(peer, addresses, explicitAdd: true);

    /// <summary>Addresses known for <paramref name="peer"/> (most recent first).</summary>
    public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer)
    {
        lock (_addressLock)
        {
            return _addressBook.TryGetValue(peer, out var list) ? [.. list] : [];
        }
    }

    private void AddAddressesCore(PeerId peer, IEnumerable<Multiaddr> addresses, bool explicitAdd)
    {
        lock (_addressLock)
        {
            if (!_addressBook.TryGetValue(peer, out var list))
            {
                if (!explicitAdd && _addressBook.Count >= MaxAddressBookPeers)
                {
                    return;
                }
                list = [];
                _addressBook[peer] = list;
            }
            foreach (var address in addresses)
            {
                var bare = address.WithoutPeerId();
                if (!TcpAddress.IsDialable(bare) && !(AddressScope.IsCircuit(bare) && bare.GetPeerId() is not null))
                {
                    continue;
                }
                list.Remove(bare);
                list.Insert(0, bare);
                if (list.Count > _options.MaxAddressesPerPeer)
                {
                    list.RemoveAt(list.Count - 1);
                }
            }
        }
    }

    private async Task<PeerConnection> DialPeerAsync(PeerId peer, CancellationToken ct)
    {
        // Direct addresses first: a relay is the fallback, never the preferred path. Last, circuits through the relays
        // we are connected to: a peer that reserved after we learned its addresses is still reachable that way (the
        // relay answers NO_RESERVATION at once otherwise).
        var known = GetAddresses(peer);
        var addresses = known.OrderBy(AddressScope.IsCircuit)
            .Concat(CircuitsThroughKnownRelays(peer).Where(c => !known.Contains(c))).ToArray();
        if (addresses.Length == 0)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"no known address for {peer}");
        }
        Exception? last = null;
        foreach (var address in addresses)
        {
            try
            {
                return await DialConnectionAsync(address.WithPeerId(peer), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                last = e;
            }
        }
        throw new ProtocolException(ProtocolErrorCode.DialFailed, $"all {addresses.Length} addresses of {peer} failed: {last?.Message}", last);
    }

    private async Task<PeerConnection> DialConnectionAsync(Multiaddr address, CancellationToken ct)
    {
        ThrowIfDisposed();
        var expected = address.GetPeerId();
        if (expected == LocalPeer)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, "refusing to dial ourselves");
        }
        var reusable = expected is not null ? GetConnection(expected) : FindOutboundTo(address);
        if (reusable is not null)
        {
            return reusable;
        }
        // Concurrent dials to the same target share one attempt; each caller can still give up on its own token.
        var key = expected?.ToString() ?? address.ToString();
        var attempt = _pendingDials.GetOrAdd(key, _ => new Lazy<Task<PeerConnection>>(() => DialAndRegisterAsync(address, expected, key)));
        return await attempt.Value.WaitAsync(ct).ConfigureAwait(false);
    }

    private async Task<PeerConnection> DialAndRegisterAsync(Multiaddr address, PeerId? expected, string key)
    {
        try
        {
            await Task.Yield(); // leave the caller's GetOrAdd before doing any work
            if (AddressScope.IsCircuit(address))
            {
                return await DialRelayedAsync(address, expected).ConfigureAwait(false);
            }
            var tcp = TcpAddress.Parse(address);
            var ips = await ResolveAsync(tcp).ConfigureAwait(false);
            Exception? last = null;
            foreach (var ip in ips)
            {
                try
                {
                    return await DialEndpointAsync(new IPEndPoint(ip, tcp.Port), expected).ConfigureAwait(false);
                }
                catch (ProtocolException e) when (e.Code is ProtocolErrorCode.PeerIdMismatch)
                {
                    throw; // the right address with the wrong peer: trying another IP would not help
                }
                catch (Exception e) when (!_lifetime.IsCancellationRequested)
                {
                    last = e;
                }
            }
            throw last as ProtocolException ?? new ProtocolException(ProtocolErrorCode.DialFailed, $"dialing {address} failed: {last?.Message}", last);
        }
        finally
        {
            _pendingDials.TryRemove(key, out _);
        }
    }

    private async Task<IPAddress[]> ResolveAsync(TcpAddress tcp)
    {
        if (tcp.Ip is not null)
        {
            return [tcp.Ip];
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        using var timer = _time.CreateTimer(_ => deadline.Cancel(), null, _options.DialTimeout, Timeout.InfiniteTimeSpan);
        var addresses = await Dns.GetHostAddressesAsync(tcp.Host, tcp.Family, deadline.Token).ConfigureAwait(false);
        return addresses.Length > 0 ? addresses : throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{tcp.Host} has no addresses");
    }

    private async Task<PeerConnection> DialEndpointAsync(IPEndPoint endPoint, PeerId? expected)
    {
        var remote = TcpAddress.FromEndPoint(endPoint);
        Socket socket;
        try
        {
            socket = await ConnectAsync(endPoint, ReusablePort(endPoint.AddressFamily), _options.DialTimeout, _lifetime.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable)
        {
            // The same local/remote pair is still in use (or in TIME_WAIT): fall back to an ephemeral port.
            socket = await ConnectOrThrowAsync(endPoint, null, remote).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"TCP connect to {remote} failed: {e.Message}", e);
        }
        PeerConnection connection;
        try
        {
            connection = await UpgradeAsync(socket, remote, isInitiator: true, expected, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogHandshakeFailure(remote, e);
            throw;
        }
        return Register(connection);
    }

    private async Task<Socket> ConnectOrThrowAsync(IPEndPoint endPoint, IPEndPoint? local, Multiaddr remote)
    {
        try
        {
            return await ConnectAsync(endPoint, local, _options.DialTimeout, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"TCP connect to {remote} failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Connects a new socket, bound first to <paramref name="local"/> (shared with our listener) when given, so that a
    /// port-preserving NAT shows peers the same port we listen on. Disposes the socket on failure.
    /// </summary>
    private async Task<Socket> ConnectAsync(IPEndPoint endPoint, IPEndPoint? local, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (local is not null)
            {
                EnablePortReuse(socket);
                socket.Bind(local);
            }
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct))
            using (var timer = _time.CreateTimer(_ => deadline.Cancel(), null, timeout, Timeout.InfiniteTimeSpan))
            {
                await socket.ConnectAsync(endPoint, deadline.Token).ConfigureAwait(false);
            }
            ConfigureSocket(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The wildcard endpoint on our listen port for <paramref name="family"/>, if port reuse is on.</summary>
    private IPEndPoint? ReusablePort(AddressFamily family)
    {
        if (!_options.Nat.ReuseListenPort)
        {
            return null;
        }
        var port = _listeners.Select(l => l.LocalEndPoint).OfType<IPEndPoint>().FirstOrDefault(e => e.AddressFamily == family)?.Port;
        return port is > 0 ? new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, port.Value) : null;
    }

    /// <summary><c>relay/p2p-circuit</c> (target appended by the caller) through up to two directly connected relays.</summary>
    private IEnumerable<Multiaddr> CircuitsThroughKnownRelays(PeerId target) =>
        AllConnections().Where(c => !c.IsRelayed && c.IsInitiator && c.RemotePeer != target
                && c.Identify?.Protocols.Contains(Relay.HopMessage.ProtocolId) == true)
            .Select(c => c.RemoteAddress.WithPeerId(c.RemotePeer).Encapsulate(Multiaddr.Parse("/p2p-circuit")))
            .Distinct().Take(2);
}
