using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Network;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

/// <summary>Configuration of a <see cref="Libp2pHost"/>: identity, listen addresses, limits and timeouts.</summary>
public sealed record Libp2pHostOptions
{
    /// <summary>The node's identity key (see <see cref="KeyFile.LoadOrCreate"/>). Required.</summary>
    public required PrivateKey Identity { get; init; }

    /// <summary>TCP addresses to listen on, e.g. <c>/ip4/0.0.0.0/tcp/4001</c>; port 0 picks a free port. Empty: dial only.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses { get; init; } = [];

    /// <summary>
    /// Addresses announced to other peers instead of the automatic choice (listen addresses, confirmed public observed
    /// addresses, relay circuits). Set it when a port is forwarded to this machine or it has a DNS name. Each must be
    /// dialable from outside: no port 0, no 0.0.0.0/::, no loopback (see <see cref="Decentralized.Protocol.Nat.AddressScope.WhyNotAnnounceable"/>).
    /// </summary>
    public IReadOnlyList<Multiaddr> AnnounceAddresses { get; init; } = [];

    /// <summary>Reachability (AutoNAT) and hole-punching settings.</summary>
    public NatOptions Nat { get; init; } = new();

    /// <summary>Circuit relay v2 service limits and client reservations.</summary>
    public RelayOptions Relay { get; init; } = new();

    /// <summary>Sent in identify. Change it to identify your build.</summary>
    public string AgentVersion { get; init; } = "decentralized/0.1.0";

    /// <summary>
    /// Time allowed from TCP connect to a usable connection (multistream, Noise, muxer, connection gate). Default 10 s;
    /// raise it for very slow links.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed to establish the TCP connection itself. Default 10 s.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for protocol negotiation on each new stream. Default 10 s.</summary>
    public TimeSpan StreamNegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection with no open stream for this long is closed. Default 5 minutes; <see cref="Timeout.InfiniteTimeSpan"/>
    /// keeps idle connections forever (js peers keep theirs busy with a ping every 10 s anyway).
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Established connections in total. Default 256; inbound connections beyond it are closed at once.</summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>Connections to one peer (2 tolerates both sides dialing at once). Default 2.</summary>
    public int MaxConnectionsPerPeer { get; init; } = 2;

    /// <summary>
    /// Departed peers whose traffic <see cref="Libp2pHost.TrafficByPeer"/> still reports. Default 4096; beyond it the peer
    /// gone longest is forgotten, so a long run with churn keeps a bounded record.
    /// </summary>
    public int RememberedPeersMax { get; init; } = 4096;

    /// <summary>
    /// Inbound connections still handshaking at once. Default 32; bounds the cost of a connection flood. When full, the
    /// oldest handshake that has not sent a byte yet is closed to make room, so idle sockets cannot lock newcomers out.
    /// </summary>
    public int MaxPendingInboundHandshakes { get; init; } = 32;

    /// <summary>
    /// Inbound handshakes pending at once from one IPv4 address or IPv6 /64. Default 8; one source cannot take all of
    /// <see cref="MaxPendingInboundHandshakes"/>. Raise it when many peers join through one NAT at the same moment.
    /// </summary>
    public int MaxPendingInboundHandshakesPerAddress { get; init; } = 8;

    /// <summary>Inbound streams of one protocol open at once on one connection (js default 32). Default 64.</summary>
    public int MaxInboundStreamsPerProtocol { get; init; } = 64;

    /// <summary>Longest multistream-select message. Default 1024 (js's limit).</summary>
    public int MaxMultistreamMessageBytes { get; init; } = MultistreamCodec.DefaultMaxMessageBytes;

    /// <summary>Addresses remembered per peer. Default 16.</summary>
    public int MaxAddressesPerPeer { get; init; } = 16;

    /// <summary>Muxer limits and keepalive.</summary>
    public YamuxOptions Yamux { get; init; } = new();

    /// <summary>Optional post-handshake check on a dedicated first stream (swarm key, version); null: none.</summary>
    public ConnectionGate? ConnectionGate { get; init; }

    /// <summary>Protocol ID negotiated for the gate stream.</summary>
    public string ConnectionGateProtocol { get; init; } = "/decentralized/gate/1.0.0";

    /// <summary>Logger factory; null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// An emulated access link for every TCP connection (rate each way, one-way latency, loss); null: none. For
    /// measuring a swarm over real-rate links on one machine (<c>node run --link</c>); relayed circuits run inside a
    /// shaped TCP connection and are not shaped again.
    /// </summary>
    public LinkShape? Link { get; init; }

    /// <summary>Clock for timeouts and RTTs (tests may inject a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> for unusable values.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Identity);
        foreach (var timeout in new[] { HandshakeTimeout, DialTimeout, StreamNegotiationTimeout })
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        }
        if (IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(IdleTimeout, TimeSpan.Zero);
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnectionsPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingInboundHandshakes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingInboundHandshakesPerAddress, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreamsPerProtocol, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMultistreamMessageBytes, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAddressesPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(RememberedPeersMax);
        ArgumentException.ThrowIfNullOrEmpty(ConnectionGateProtocol);
        Yamux.Validate();
        Nat.Validate();
        Relay.Validate();
        foreach (var address in AnnounceAddresses)
        {
            if (Protocol.Nat.AddressScope.WhyNotAnnounceable(address) is { } why)
            {
                throw new ArgumentException($"cannot announce {address}: {why}", nameof(AnnounceAddresses));
            }
        }
        foreach (var address in ListenAddresses)
        {
            TcpAddress.Parse(address);
        }
    }
}
