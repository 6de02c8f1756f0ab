using System.Collections.Concurrent;
using Decentralized.Protocol.Identity;

namespace Decentralized.Node.Swarm;

/// <summary>
/// Adaptive round deadlines and a record of who keeps missing rounds. For each partner we keep an
/// exponentially weighted mean and deviation of its lag: how long after we were ready its update arrived
/// (it folds in compute skew, link latency and transfer time, all measured, none hand-set). A round then
/// waits for mean + 4 deviations of its slowest partner plus a margin, bounded below by
/// <see cref="FloorSeconds"/> and above by the configured round timeout. A partner we know nothing about gets
/// the full timeout. A peer that misses <see cref="MissesToSuspend"/> rounds in a row leaves our pairing until
/// an update from it arrives again.
/// </summary>
public sealed class RoundDeadlines(TimeSpan ceiling)
{
    public const double FloorSeconds = 2.0;
    public const int MissesToSuspend = 3;
    private const double Weight = 0.3;

    private readonly ConcurrentDictionary<PeerId, (double Mean, double Deviation, int Samples)> _lag = new();
    private readonly ConcurrentDictionary<PeerId, int> _misses = new();

    /// <summary>How long to wait for these partners' updates, and a few words on why.</summary>
    public (TimeSpan Wait, string Basis) For(IReadOnlyList<PeerId> partners)
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

    /// <summary>A partner's update arrived <paramref name="lagSeconds"/> after we were ready (0 if it was already there).</summary>
    public bool Arrived(PeerId peer, double lagSeconds)
    {
        _lag.AddOrUpdate(peer, _ => (lagSeconds, lagSeconds / 2, 1), (_, old) =>
        {
            double mean = old.Mean + Weight * (lagSeconds - old.Mean);
            double deviation = old.Deviation + Weight * (Math.Abs(lagSeconds - old.Mean) - old.Deviation);
            return (mean, deviation, old.Samples + 1);
        });
        return _misses.TryRemove(peer, out int misses) && misses >= MissesToSuspend;   // true: it is back
    }

    /// <summary>A partner missed a round; returns true when this miss suspends it.</summary>
    public bool Missed(PeerId peer)
    {
        int misses = _misses.AddOrUpdate(peer, 1, (_, m) => m + 1);
        return misses == MissesToSuspend;
    }

    /// <summary>Any update from a peer ends its suspension; returns true if it was suspended.</summary>
    public bool Answered(PeerId peer) => _misses.TryRemove(peer, out int misses) && misses >= MissesToSuspend;

    public bool IsSuspended(PeerId peer) => _misses.TryGetValue(peer, out int m) && m >= MissesToSuspend;
}
