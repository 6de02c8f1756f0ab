using System.Collections.Concurrent;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Decentralized.Protocol.Ping;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// A libp2p-compatible node over TCP: listens and dials, upgrades every connection with multistream-select →
/// <c>/noise</c> → Yamux (inline muxer negotiation or <c>/yamux/1.0.0</c>), runs the optional connection gate, serves
/// and uses identify and ping, and hands protocol streams to registered handlers. A peer that sends malformed or
/// hostile bytes loses only its own connection; the reason is logged.
/// </summary>
public sealed partial class Libp2pHost : IPeerNetwork
{
    private readonly Libp2pHostOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ShapedLink _link;   // every TCP socket goes through it (unshaped unless Libp2pHostOptions.Link says)
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<string, Func<PeerId, Stream, CancellationToken, Task>> _handlers = new(StringComparer.Ordinal);
    private string[] _handlerProtocols = [];
    private int _disposed;

    /// <summary>Creates a host; call <see cref="StartAsync"/> to listen (dialing works without it).</summary>
    public Libp2pHost(Libp2pHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Link is { } link)
        {
            // Frames wait behind bulk data on a slow emulated link far longer than the defaults assume (LinkShape.QueueingAllowance).
            options = options with
            {
                HandshakeTimeout = options.HandshakeTimeout + link.QueueingAllowance,
                StreamNegotiationTimeout = options.StreamNegotiationTimeout + link.QueueingAllowance,
            };
        }
        _options = options;
        _time = options.TimeProvider;
        _link = new ShapedLink(options.Link ?? new LinkShape(0, TimeSpan.Zero), _time);
        _log = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Libp2pHost>();
        LocalPeer = options.Identity.PeerId;
        SetStreamHandler(IdentifyMessage.ProtocolId, ServeIdentifyAsync);
        SetStreamHandler(IdentifyMessage.PushProtocolId, ServeIdentifyPushAsync);
        SetStreamHandler(PingProtocol.ProtocolId, (_, stream, ct) => PingProtocol.ServeAsync(stream, ct));
        RegisterAutoNat();
        SetStreamHandler(Relay.StopMessage.ProtocolId, ServeStopAsync);
        UpdateRelayService();
        RegisterHolePunch();
        StartIdleSweep();
    }

    /// <inheritdoc />
    public PeerId LocalPeer { get; }

    /// <inheritdoc />
    public event Action<PeerId>? PeerConnected;

    /// <inheritdoc />
    public event Action<PeerId>? PeerDisconnected;

    /// <summary>Raised when a peer's identify answer (or push) arrives.</summary>
    public event Action<PeerId, IdentifyMessage>? PeerIdentified;

    /// <summary>The options in force.</summary>
    public Libp2pHostOptions Options => _options;

    /// <inheritdoc />
    public void SetStreamHandler(string protocolId, Func<PeerId, Stream, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[protocolId] = handler;
        _handlerProtocols = [.. _handlers.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>Stops serving <paramref name="protocolId"/>.</summary>
    public void RemoveStreamHandler(string protocolId)
    {
        _handlers.TryRemove(protocolId, out _);
        _handlerProtocols = [.. _handlers.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>Protocols this host serves (sent in identify).</summary>
    public IReadOnlyList<string> Protocols => _handlerProtocols;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _lifetime.Cancel();
        StopListening();
        _idleTimer?.Dispose();
        _renewTimer?.Dispose();
        var closing = AllConnections().Select(c => CloseConnectionAsync(c, "host shutting down")).ToArray();
        await Task.WhenAll(closing).ConfigureAwait(false);
        _lifetime.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
