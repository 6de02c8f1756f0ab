namespace Decentralized.Node.Rounds;

/// <summary>
/// Adaptive round deadlines and a record of who keeps missing rounds. For each partner an exponentially weighted
/// mean and deviation of its lag (how long after we were ready its update arrived: compute skew, latency and
/// transfer together, all measured). A round waits for mean + 4 deviations of its slowest partner, times 1.5 plus
/// a second, within [<see cref="FloorSeconds"/>, the round timeout]; a partner without two measurements gets the
/// full timeout. A partner that misses <see cref="MissesToSuspend"/> rounds in a row leaves our pairing until an
/// update from it arrives again. Single-threaded: the engine's caller serialises calls.
/// </summary>
public sealed class PartnerDeadlines(TimeSpan ceiling)
{
    public const double FloorSeconds = 2.0;
    public const int MissesToSuspend = 3;
    private const double Weight = 0.3;

    private readonly Dictionary<string, (double Mean, double Deviation, int Samples)> _lag = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _misses = new(StringComparer.Ordinal);

    /// <summary>How long to wait for these partners' updates, and a few words on why.</summary>
    public (TimeSpan Wait, string Basis) For(IReadOnlyList<string> partners)
    {
        if (partners.Count == 0) return (TimeSpan.Zero, "no partners");
        double worst = 0;
        foreach (var p in partners)
        {
            if (!_lag.TryGetValue(p, out var lag) || lag.Samples < 2) return (ceiling, "a partner without measurements");
            worst = Math.Max(worst, lag.Mean + 4 * lag.Deviation);
        }
        double seconds = Math.Clamp(1.5 * worst + 1.0, FloorSeconds, ceiling.TotalSeconds);
        return (TimeSpan.FromSeconds(seconds), $"measured partner lag (slowest mean+4σ {worst:F1} s)");
    }

    /// <summary>A partner's update arrived <paramref name="lagSeconds"/> after we were ready; true when that ends its suspension.</summary>
    public bool Arrived(string peer, double lagSeconds)
    {
        _lag[peer] = _lag.TryGetValue(peer, out var old)
            ? (old.Mean + Weight * (lagSeconds - old.Mean), old.Deviation + Weight * (Math.Abs(lagSeconds - old.Mean) - old.Deviation), old.Samples + 1)
            : (lagSeconds, lagSeconds / 2, 1);
        return Answered(peer);
    }

    /// <summary>A partner missed a round; true when this miss suspends it.</summary>
    public bool Missed(string peer)
    {
        int misses = _misses[peer] = _misses.GetValueOrDefault(peer) + 1;
        return misses == MissesToSuspend;
    }

    /// <summary>Any update from a peer ends its suspension; true if it was suspended.</summary>
    public bool Answered(string peer) => _misses.Remove(peer, out int misses) && misses >= MissesToSuspend;

    public bool IsSuspended(string peer) => _misses.TryGetValue(peer, out int m) && m >= MissesToSuspend;

    /// <summary>The partners left out of our pairing now, in ordinal order.</summary>
    public IReadOnlyList<string> Suspended => _misses.Where(m => m.Value >= MissesToSuspend).Select(m => m.Key).Order(StringComparer.Ordinal).ToArray();
}
