using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private const int ListenBacklog = 128;

    private readonly List<Socket> _listeners = [];
    private IReadOnlyList<Multiaddr> _listenAddresses = [];
    private readonly object _pendingLock = new();
    private readonly LinkedList<PendingHandshake> _pending = new();   // oldest first

    /// <summary>Addresses bound by <see cref="StartAsync"/> (0.0.0.0 expanded to each interface), each with /p2p/.</summary>
    public IReadOnlyList<Multiaddr> BoundAddresses => _listenAddresses;

    /// <summary>Binds every configured listen address and starts accepting connections.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var announced = new List<Multiaddr>();
        foreach (var address in _options.ListenAddresses)
        {
            var tcp = TcpAddress.Parse(address);
            var ip = tcp.Ip ?? throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"listen address {address} must be an IP address");
            var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }
                if (_options.Nat.ReuseListenPort)
                {
                    // Dials will bind this port too (see DialEndpointAsync); a busy port must still fail here, so
                    // probe it without port sharing first.
                    ProbeBindable(new IPEndPoint(ip, tcp.Port));
                    EnablePortReuse(socket);
                }
                socket.Bind(new IPEndPoint(ip, tcp.Port));
                socket.Listen(ListenBacklog);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            _listeners.Add(socket);
            var bound = (IPEndPoint)socket.LocalEndPoint!;
            announced.AddRange(ExpandUnspecified(bound).Select(a => a.WithPeerId(LocalPeer)));
            _log.LogInformation("Listening on {Address}", TcpAddress.FromEndPoint(bound));
            _ = AcceptLoopAsync(socket);
        }
        _listenAddresses = announced;
        UpdateRelayService();
        return Task.CompletedTask;
    }

    private void StopListening()
    {
        foreach (var socket in _listeners)
        {
            socket.Dispose();
        }
        _listeners.Clear();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_lifetime.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_lifetime.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_lifetime.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.LogWarning("Accept failed: {Error}", e.Message);
                continue;
            }
            if (ConnectionCount >= _options.MaxConnections)
            {
                _log.LogWarning("Refusing inbound connection from {Remote}: {Limit} connections open", socket.RemoteEndPoint, _options.MaxConnections);
                socket.Dispose();
                continue;
            }
            AdmitInbound(socket);
        }
    }

    /// <summary>
    /// Takes a pending handshake slot for a new socket, or refuses it. Slots are limited per source address
    /// (<see cref="Libp2pHostOptions.MaxPendingInboundHandshakesPerAddress"/>) and in total; when either is full, the
    /// oldest pending handshake that has not sent a single byte makes room (it is closed), so sockets that connect and
    /// stay silent can delay a real peer by one accept, never lock it out. Only when every slot is talking is the
    /// newcomer refused.
    /// </summary>
    private void AdmitInbound(Socket socket)
    {
        IPEndPoint endPoint;
        PendingHandshake handshake;
        try
        {
            endPoint = (IPEndPoint)socket.RemoteEndPoint!;
            handshake = new PendingHandshake(SourceOf(endPoint.Address), new CountingStream(_link.Wrap(new NetworkStream(socket, ownsSocket: true))));
        }
        catch (Exception)
        {
            // The peer is already gone (reset between accept and here).
            socket.Dispose();
            return;
        }
        PendingHandshake? evicted = null;
        string? refusal = null;
        lock (_pendingLock)
        {
            var fromSource = _pending.Count(p => p.Source.Equals(handshake.Source));
            var full = fromSource >= _options.MaxPendingInboundHandshakesPerAddress ? $"{fromSource} handshakes from {handshake.Source} pending"
                : _pending.Count >= _options.MaxPendingInboundHandshakes ? $"{_pending.Count} handshakes pending"
                : null;
            if (full is not null)
            {
                // Room is made inside the limit that is full: from the same source if it is the per-source one.
                evicted = _pending.FirstOrDefault(p => p.IsSilent && (fromSource < _options.MaxPendingInboundHandshakesPerAddress || p.Source.Equals(handshake.Source)));
                if (evicted is null)
                {
                    refusal = full;
                }
                else
                {
                    _pending.Remove(evicted);
                }
            }
            if (refusal is null)
            {
                _pending.AddLast(handshake);
            }
        }
        if (evicted is not null)
        {
            _log.LogDebug("Closing a silent pending handshake from {Evicted} to admit {Remote}", evicted.Source, endPoint);
            evicted.Wire.Dispose();
        }
        if (refusal is not null)
        {
            _log.LogWarning("Refusing inbound connection from {Remote}: {Reason}, none of them silent", endPoint, refusal);
            handshake.Wire.Dispose();
            return;
        }
        _ = HandleInboundAsync(handshake, endPoint);
    }

    private async Task HandleInboundAsync(PendingHandshake handshake, IPEndPoint endPoint)
    {
        var remote = TcpAddress.FromEndPoint(endPoint);
        try
        {
            ConfigureSocket(handshake.Wire);
            // The other side of a hole punch whose SYN beat ours to this listener: DCUtR makes us its client.
            var punching = PunchingPeerAt(endPoint);
            var connection = await UpgradeAsync(handshake.Wire, remote, isInitiator: punching is not null, expectedPeer: punching, relayed: false, _lifetime.Token)
                .ConfigureAwait(false);
            _ = Register(connection);
        }
        catch (Exception e)
        {
            LogHandshakeFailure(remote, e);
        }
        finally
        {
            lock (_pendingLock)
            {
                _pending.Remove(handshake);
            }
        }
    }

    /// <summary>Whom a pending-handshake quota belongs to: the IPv4 address, or the /64 of an IPv6 one (one host's usual share).</summary>
    private static IPAddress SourceOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    /// <summary>An inbound connection between accept and the end of its upgrade; silent while it has sent nothing.</summary>
    private sealed class PendingHandshake(IPAddress source, CountingStream wire)
    {
        public IPAddress Source { get; } = source;
        public CountingStream Wire { get; } = wire;
        public bool IsSilent => Wire.BytesRead == 0;
    }

    private static void ProbeBindable(IPEndPoint endPoint)
    {
        if (endPoint.Port == 0)
        {
            return;
        }
        using var probe = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(endPoint);
    }

    /// <summary>SO_REUSEADDR and SO_REUSEPORT, so a listener and outbound sockets can share one local port.</summary>
    internal static void EnablePortReuse(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (OperatingSystem.IsLinux())
        {
            const int SolSocket = 1, SoReusePort = 15;
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
        }
    }

    private static void ConfigureSocket(Socket socket)
    {
        // Small control frames (window updates, pings, negotiation) must not wait for Nagle.
        socket.NoDelay = true;
    }

    private static void ConfigureSocket(CountingStream wire)
    {
        if ((wire.Inner is ShapedStream shaped ? shaped.Inner : wire.Inner) is NetworkStream network)
        {
            ConfigureSocket(network.Socket);
        }
    }

    private static IEnumerable<Multiaddr> ExpandUnspecified(IPEndPoint bound)
    {
        if (!bound.Address.Equals(IPAddress.Any) && !bound.Address.Equals(IPAddress.IPv6Any))
        {
            return [TcpAddress.FromEndPoint(bound)];
        }
        // Announce every interface address of the bound family, as js does for 0.0.0.0 listeners.
        var addresses = new List<Multiaddr>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces().Where(n => n.OperationalStatus == OperationalStatus.Up))
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    var ip = unicast.Address;
                    if (ip.AddressFamily == bound.AddressFamily && !ip.IsIPv6LinkLocal)
                    {
                        addresses.Add(TcpAddress.FromEndPoint(new IPEndPoint(ip, bound.Port)));
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            // Fall back to the loopback address below.
        }
        if (addresses.Count == 0)
        {
            var loopback = bound.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback;
            addresses.Add(TcpAddress.FromEndPoint(new IPEndPoint(loopback, bound.Port)));
        }
        return addresses;
    }
}
