namespace Decentralized.Node.Rounds;

/// <summary>
/// One member's exchange of one round, from <see cref="RoundEngine.Begin"/> until its step is applied: what it
/// sent (own vectors as CPU floats), whom it waits for, when it gives up, and how it closed.
/// </summary>
internal sealed class Exchange(long round, string[] group, string[] targets, float[] own, float[]? ownSlow, float[]? ownDecoded,
    DateTimeOffset opened, DateTimeOffset deadline, string deadlineBasis, float[]? sentFrom, bool last)
{
    public long Round => round;
    /// <summary>The group in summation order, this member included.</summary>
    public string[] Group => group;
    public string[] Targets => targets;
    public float[] Own => own;
    public float[]? OwnSlow => ownSlow;
    /// <summary>Own primary as the partners decode it (DiLoCo), else null.</summary>
    public float[]? OwnDecoded => ownDecoded;
    public DateTimeOffset Opened => opened;
    public DateTimeOffset Deadline => deadline;
    public string DeadlineBasis => deadlineBasis;
    /// <summary>With overlap, NoLoCo's φ when the update was built: a later step may move φ before this one lands.</summary>
    public float[]? SentFrom => sentFrom;
    /// <summary>The run's last round: its step consolidates.</summary>
    public bool Last => last;
    /// <summary>Targets whose arrival has been measured.</summary>
    public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
    /// <summary>Hash of our blob's body and the fingerprint of the φ we built it on (verification's echo and stale checks).</summary>
    public ulong OwnBody { get; init; }
    public ulong Fingerprint { get; init; }
    public string? Closed { get; set; }
    public DateTimeOffset ClosedAt { get; set; }
}
