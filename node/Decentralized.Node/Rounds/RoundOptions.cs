namespace Decentralized.Node.Rounds;

/// <summary>How the round engine runs an exchange; the same record for the daemon, <c>train</c>, the simulator and the pipeline.</summary>
public sealed record RoundOptions
{
    /// <summary>Seeds the NoLoCo grouping; every member of a swarm must use the same.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>
    /// One-step delay (DiLoCoX / async DiLoCo): round r's exchange runs while round r+1 trains and its step lands one
    /// round late. Change it when the exchange takes about as long as the inner steps of a round.
    /// </summary>
    public bool Overlap { get; init; }

    /// <summary>The run's last round hands over the members' average (no momentum step). Turn off only to compare.</summary>
    public bool ConsolidateLastRound { get; init; } = true;

    /// <summary>The payload asked for (null: the method's default for the chain).</summary>
    public Payload? Payload { get; init; }

    /// <summary>An update whose norm (or distance from our φ for weights) exceeds this many times ours is refused.</summary>
    public double UpdateNormBound { get; init; } = 10.0;

    /// <summary>
    /// How received updates are verified before they are applied (clip, cheap checks, score, exclusion); null: only
    /// the norm bound and the codec's checks. Every member of a swarm should use the same (DiLoCo's members stay
    /// identical only while they apply the same updates).
    /// </summary>
    public VerifyOptions? Verify { get; init; }

    /// <summary>The longest a round waits for a partner it knows nothing about; measured partners get less.</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Updates kept per round at most (bounds the mailbox against a flood).</summary>
    public int PeersMax { get; init; } = 512;

    public RoundOptions Validate()
    {
        if (!(UpdateNormBound > 1)) throw new ArgumentException("update norm bound must exceed 1");
        if (RoundTimeout <= TimeSpan.Zero) throw new ArgumentException("round timeout must be positive");
        if (PeersMax < 1) throw new ArgumentException("peers max must be at least 1");
        Verify?.Validate();
        return this;
    }
}
