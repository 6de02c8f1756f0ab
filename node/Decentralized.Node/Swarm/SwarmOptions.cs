using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Node.Swarm;

/// <summary>How a peer takes part in a swarm. Every member must agree on the fields that enter <see cref="SwarmIdentity.ConfigHash"/>.</summary>
public sealed record SwarmOptions
{
    /// <summary>Name of the swarm; peers of another swarm are refused. Change it to start a separate run.</summary>
    public string SwarmId { get; init; } = "default";

    /// <summary>Pre-shared secret a peer must prove right after Noise (like libp2p private networks). Empty: open swarm.</summary>
    public byte[] SwarmKey { get; init; } = [];

    public Algorithm Algorithm { get; init; } = Algorithm.NoLoCo;

    /// <summary>H: inner steps between outer rounds.</summary>
    public int InnerStepsPerRound { get; init; } = 50;

    /// <summary>Seed every member shares: NoLoCo groups are a permutation of the live set derived from (seed, round).</summary>
    public long SwarmSeed { get; init; } = 1;

    /// <summary>
    /// Upper bound of the wait for partners' updates in a round; the actual deadline adapts to each partner's
    /// measured lag (<see cref="PartnerDeadlines"/>), and the round completes with whoever answered.
    /// </summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Heartbeat period: liveness and peer-list gossip.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A peer silent for this long is considered dead and leaves the pairing set.</summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A received update is refused if its norm exceeds this multiple of our own (poisoning guard).</summary>
    public double UpdateNormBound { get; init; } = 10.0;

    /// <summary>Largest encoded update blob accepted (bytes); a model-sized fp32 vector plus headers must fit.</summary>
    public long UpdateBytesMax { get; init; } = 1L << 30;

    /// <summary>Control messages (hello, heartbeat, headers) larger than this are refused.</summary>
    public int ControlMessageBytesMax { get; init; } = 64 * 1024;

    /// <summary>Peers remembered at most (bounds gossip and memory).</summary>
    public int PeersMax { get; init; } = 512;

    /// <summary>
    /// How partners' updates are verified before they are applied (clip, echo/replay/stale checks, a score on a held-out
    /// batch once <see cref="SwarmPeer.ScoringBatches"/> is given, exclusion); null turns it off (only the norm bound).
    /// </summary>
    public VerifyOptions? Verify { get; init; } = new();

    /// <summary>
    /// One-step-delayed outer update (DiLoCoX, async DiLoCo): the exchange runs while the next H inner steps
    /// compute, hiding communication at the cost of one round of staleness. Turn it on when rounds wait on the network.
    /// </summary>
    public bool Overlap { get; init; }

    /// <summary>
    /// NoLoCo's payload (null: θ over a lossless chain, θ as an offset from the shared anchor over a lossy one; γ ≠ β always
    /// sends Δ and φ). The same setting and default as <c>train --payload</c>; change it only to compare payloads.
    /// </summary>
    public Payload? Payload { get; init; }

    /// <summary>Swarm size (including us) to wait for before training starts; 1 starts at once.</summary>
    public int PeersMin { get; init; } = 1;

    /// <summary>
    /// Synchronous steps before the first outer round (every member's gradient all-gathered through --compress and
    /// averaged each step, as <c>train --sync-warmup</c>): from scratch, a few hundred close most of the gap to DDP.
    /// Every member must use the same; a member that joins after the warm-up skips it with the swarm's weights.
    /// </summary>
    public int SyncWarmupSteps { get; init; }

    /// <summary>Stop after this many outer rounds (0: run until stopped).</summary>
    public long RoundsMax { get; init; }

    /// <summary>State transfers to joiners move in chunks of this size, each with its own SHA-256 in the manifest.</summary>
    public int StateChunkBytes { get; init; } = 4 << 20;

    /// <summary>Joiners a donor serves at once; more are told to try another peer (serving never starves training).</summary>
    public int StateJoinersMax { get; init; } = 2;

    /// <summary>Donors a joiner downloads from at once (chunks are spread across them and retried elsewhere on failure).</summary>
    public int StateDonorsMax { get; init; } = 4;

    /// <summary>Bytes per second this donor uploads to joiners, all of them together (0: unlimited).</summary>
    public long StateUploadBytesPerSecond { get; init; }

    public SwarmOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(SwarmId) || SwarmId.Length > 128) throw new ArgumentException("swarm id must be 1 to 128 characters");
        if (InnerStepsPerRound < 1) throw new ArgumentException("inner steps per round (H) must be at least 1");
        if (RoundTimeout <= TimeSpan.Zero) throw new ArgumentException("round timeout must be positive");
        if (HeartbeatInterval <= TimeSpan.Zero || PeerTimeout <= HeartbeatInterval) throw new ArgumentException("peer timeout must exceed the heartbeat interval");
        if (!(UpdateNormBound > 1)) throw new ArgumentException("update norm bound must exceed 1");
        if (PeersMin < 1) throw new ArgumentException("minimum peers must be at least 1");
        if (StateChunkBytes < 4096 || StateChunkBytes > 64 << 20 || StateChunkBytes % 4 != 0) throw new ArgumentException("state chunk size must be a multiple of 4 between 4 KiB and 64 MiB");
        if (StateJoinersMax < 1 || StateDonorsMax < 1) throw new ArgumentException("joiners per donor and donors per joiner must be at least 1");
        if (StateUploadBytesPerSecond < 0) throw new ArgumentException("state upload limit must be 0 (unlimited) or positive");
        if (SyncWarmupSteps < 0) throw new ArgumentException("sync warm-up steps must be 0 or more");
        if (RoundsMax < 0) throw new ArgumentException("rounds must be 0 (unbounded) or more");
        return this;
    }
}
