namespace Decentralized.Node.Rounds;

/// <summary>
/// How a member verifies its partners' updates before applying them (ALGORITHMS.md, "Verifying contributions"):
/// clipped to a multiple of the median of recent norms, scored on one local held-out batch, dropped (or down-weighted)
/// when they make that batch worse, and their sender excluded after repeated negative scores until it scores positive again, twice in a row.
/// </summary>
public sealed record VerifyOptions
{
    /// <summary>
    /// An update whose score s = (L(φ) − L(φ − c·Δ))/L(φ) is below −ε is treated as harmful. Raise it when honest
    /// partners are dropped on a small, noisy scoring batch; lower it to catch subtler poisoning.
    /// </summary>
    public double Tolerance { get; init; } = 0.002;

    /// <summary>
    /// An update must also help: when our own update clearly helps the held-out batch (score s₀ above the tolerance),
    /// a partner's scoring below this share of s₀ is treated as harmful. Honest partners, trained from the same φ on the
    /// same task, score near s₀; a random direction, a peer trained on noise or a flipped update score about 0 or
    /// less. 0 turns the check off.
    /// </summary>
    public double MinShare { get; init; } = 0.1;

    /// <summary>True: a harmful update enters at a reduced weight ε/(ε + |s|) instead of being dropped.</summary>
    public bool DownWeight { get; init; }

    /// <summary>
    /// Received updates longer than this multiple of the median of recent norms (ours included) are scaled down to it.
    /// Raise it when partners' norms legitimately differ a lot (very different data or batch sizes).
    /// </summary>
    public double ClipMultiple { get; init; } = 2.0;

    /// <summary>
    /// An update shorter than this fraction of the median of recent norms carries no work (a free rider: zeros, or a
    /// real update scaled down): it is dropped and counts as a negative score.
    /// </summary>
    public double FreeRiderFraction { get; init; } = 0.1;

    /// <summary>The scoring step as a fraction of the outer learning rate (Templar's Gauntlet uses 0.2).</summary>
    public double StepFraction { get; init; } = 0.2;

    /// <summary>Negative scores in a row after which a partner is excluded (its updates scored, not applied) until it scores positive <see cref="PositivesToReadmit"/> times in a row.</summary>
    public int NegativesToExclude { get; init; } = 3;

    /// <summary>Positive scores in a row after which an excluded partner is readmitted (its updates applied again from the last of them).</summary>
    public int PositivesToReadmit { get; init; } = 2;

    /// <summary>Recent rounds whose norms set the clip and whose update hashes catch replays.</summary>
    public int HistoryRounds { get; init; } = 8;

    public VerifyOptions Validate()
    {
        if (!(Tolerance >= 0) || !double.IsFinite(Tolerance)) throw new ArgumentException("verify tolerance must be 0 or more");
        if (MinShare is < 0 or > 1 || double.IsNaN(MinShare)) throw new ArgumentException("verify min share must be in [0, 1]");
        if (!(ClipMultiple >= 1) || !double.IsFinite(ClipMultiple)) throw new ArgumentException("clip multiple must be at least 1");
        if (FreeRiderFraction is < 0 or >= 1) throw new ArgumentException("free rider fraction must be in [0, 1)");
        if (!(StepFraction > 0) || StepFraction > 1) throw new ArgumentException("scoring step fraction must be in (0, 1]");
        if (NegativesToExclude < 1) throw new ArgumentException("negatives to exclude must be at least 1");
        if (PositivesToReadmit < 1) throw new ArgumentException("positives to readmit must be at least 1");
        if (HistoryRounds is < 1 or > 1024) throw new ArgumentException("history rounds must be in [1, 1024]");
        return this;
    }
}
