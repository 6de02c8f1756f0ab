namespace Decentralized.Protocol.Tcp;

/// <summary>Reachability (AutoNAT v1) and hole-punching settings of a <see cref="Libp2pHost"/>.</summary>
public sealed record NatOptions
{
    /// <summary>Serve <c>/libp2p/autonat/1.0.0</c> dial-back requests. Default true; turn off on a metered link.</summary>
    public bool AutoNatServer { get; init; } = true;

    /// <summary>Dial-backs served per minute in total (go-libp2p: 30). Raise only for a large public bootstrap node.</summary>
    public int DialBacksPerMinute { get; init; } = 30;

    /// <summary>Dial-backs served per minute to one peer (go-libp2p: 3).</summary>
    public int DialBacksPerPeerPerMinute { get; init; } = 3;

    /// <summary>Addresses tried per dial-back request (the rest are ignored). Default 4.</summary>
    public int DialBackAddressesMax { get; init; } = 4;

    /// <summary>Time allowed for one dial-back (TCP connect and handshake). Default 5 s; raise on very slow links.</summary>
    public TimeSpan DialBackTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Dial out from the listen port (SO_REUSEADDR/SO_REUSEPORT), so that a NAT that keeps ports maps our outbound
    /// connections to the same public port peers can reach, and hole punching can work. Default false in the library
    /// (tests open many hosts on loopback); the daemon turns it on.
    /// </summary>
    public bool ReuseListenPort { get; init; }

    /// <summary>
    /// Check reachability on our own: when a peer that serves AutoNAT connects while we do not know yet, and again every
    /// <see cref="ReachabilityRecheckInterval"/>; reserve relay slots as relays connect while we are private. Default
    /// false in the library (tests drive checks themselves); the daemon turns it on.
    /// </summary>
    public bool AutoReachability { get; init; }

    /// <summary>How often the automatic check runs again. Default 10 minutes.</summary>
    public TimeSpan ReachabilityRecheckInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Try DCUtR hole punching on relayed connections. Default true.</summary>
    public bool HolePunching { get; init; } = true;

    /// <summary>Hole-punch attempts per relayed connection (the spec: the inbound side tries 3 times in total).</summary>
    public int HolePunchAttempts { get; init; } = 3;

    /// <summary>Throws <see cref="ArgumentException"/> for unusable values.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DialBacksPerMinute, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(DialBacksPerPeerPerMinute, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(DialBackAddressesMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialBackTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(HolePunchAttempts, 1);
    }
}
