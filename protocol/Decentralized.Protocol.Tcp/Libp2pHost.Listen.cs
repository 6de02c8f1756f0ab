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
    private int _pendingInbound;

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
            if (Interlocked.Increment(ref _pendingInbound) > _options.MaxPendingInboundHandshakes || ConnectionCount >= _options.MaxConnections)
            {
                Interlocked.Decrement(ref _pendingInbound);
                _log.LogWarning("Refusing inbound connection from {Remote}: connection limit reached", socket.RemoteEndPoint);
                socket.Dispose();
                continue;
            }
            _ = HandleInboundAsync(socket);
        }
    }

    private async Task HandleInboundAsync(Socket socket)
    {
        Multiaddr remote;
        PeerId? punching;
        try
        {
            var endPoint = (IPEndPoint)socket.RemoteEndPoint!;
            remote = TcpAddress.FromEndPoint(endPoint);
            punching = PunchingPeerAt(endPoint);
        }
        catch (Exception)
        {
            socket.Dispose();
            Interlocked.Decrement(ref _pendingInbound);
            return;
        }
        try
        {
            ConfigureSocket(socket);
            // The other side of a hole punch whose SYN beat ours to this listener: DCUtR makes us its client.
            var connection = await UpgradeAsync(socket, remote, isInitiator: punching is not null, expectedPeer: punching, _lifetime.Token).ConfigureAwait(false);
            _ = Register(connection);
        }
        catch (Exception e)
        {
            LogHandshakeFailure(remote, e);
        }
        finally
        {
            Interlocked.Decrement(ref _pendingInbound);
        }
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
