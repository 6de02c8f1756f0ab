namespace Decentralized.Protocol.Tcp;

/// <summary>When a host serves as a circuit relay.</summary>
public enum RelayMode
{
    /// <summary>Never.</summary>
    Off,
    /// <summary>Always.</summary>
    On,
    /// <summary>Unless AutoNAT found us private (a relay behind a NAT helps nobody).</summary>
    Auto,
}

/// <summary>
/// Circuit relay v2: the relay service's limits and the client's reservations. Every relayed connection costs the
/// relay its own bandwidth twice (in and out), hence caps per connection; go-libp2p's defaults (2 min, 128 KiB) are
/// for signalling only, ours are larger so a small swarm can train through a relay when hole punching fails.
/// </summary>
public sealed record RelayOptions
{
    /// <summary>Serve as a relay. Default <see cref="RelayMode.Auto"/>.</summary>
    public RelayMode Mode { get; init; } = RelayMode.Auto;

    /// <summary>Peers holding a reservation at once. Default 64.</summary>
    public int ReservationsMax { get; init; } = 64;

    /// <summary>How long a reservation lasts before the client must renew it. Default 1 hour (the spec's examples).</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Relayed connections at once. Default 32.</summary>
    public int CircuitsMax { get; init; } = 32;

    /// <summary>Relayed connections from or to one peer at once. Default 8.</summary>
    public int CircuitsPerPeerMax { get; init; } = 8;

    /// <summary>Bytes per relayed connection and direction before the relay resets it. Default 256 MiB.</summary>
    public long CircuitBytesMax { get; init; } = 256L << 20;

    /// <summary>Lifetime of a relayed connection before the relay resets it. Default 30 minutes.</summary>
    public TimeSpan CircuitDurationMax { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Reserve slots on relays we meet once AutoNAT finds us private. Default true.</summary>
    public bool AutoReserve { get; init; } = true;

    /// <summary>Relays to hold reservations on at once (more relays, more paths in). Default 2.</summary>
    public int ClientRelaysMax { get; init; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> for unusable values.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ReservationsMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReservationTtl, TimeSpan.FromSeconds(10));
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitsMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitsPerPeerMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitBytesMax, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitDurationMax, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CircuitDurationMax, TimeSpan.FromSeconds(uint.MaxValue));
        ArgumentOutOfRangeException.ThrowIfLessThan(ClientRelaysMax, 1);
    }
}
