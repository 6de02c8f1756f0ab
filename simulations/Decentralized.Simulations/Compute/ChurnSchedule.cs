using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Compute;

/// <summary>
/// When peers leave, crash and join: either an explicit list, or drawn from rates. Rates are per live peer per hour
/// for departures (a Poisson process per peer, so a larger swarm loses peers proportionally faster) and per hour for
/// the whole swarm for joins. A drawn schedule keeps at least <c>minLive</c> peers.
/// </summary>
public sealed class ChurnSchedule
{
    /// <summary>An explicit schedule, sorted by time.</summary>
    public ChurnSchedule(IEnumerable<ChurnEvent> events)
    {
        Events = events.OrderBy(e => e.At).ThenBy(e => e.Kind).ThenBy(e => e.Slot).ToArray();
    }

    /// <summary>The events in time order.</summary>
    public IReadOnlyList<ChurnEvent> Events { get; }

    /// <summary>No churn.</summary>
    public static ChurnSchedule None { get; } = new(Array.Empty<ChurnEvent>());

    /// <summary>
    /// Draws a schedule over [0, <paramref name="duration"/>) for <paramref name="initialPeers"/> peers.
    /// <paramref name="crashFraction"/> of the departures are crashes, the rest graceful leaves.
    /// </summary>
    public static ChurnSchedule FromRates(int initialPeers, TimeSpan duration, double departuresPerPeerHour, double joinsPerHour,
        double crashFraction, DeterministicRandom random, int minLive = 2, int maxPeers = 4096)
    {
        if (initialPeers < 1) throw new ArgumentException("at least one initial peer is needed");
        if (departuresPerPeerHour < 0 || joinsPerHour < 0 || !double.IsFinite(departuresPerPeerHour) || !double.IsFinite(joinsPerHour))
            throw new ArgumentException("churn rates must be finite and 0 or more");
        if (crashFraction is < 0 or > 1) throw new ArgumentException("crash fraction must be in [0, 1]");
        var live = Enumerable.Range(0, initialPeers).ToList();
        int next = initialPeers;
        var events = new List<ChurnEvent>();
        double t = 0, end = duration.TotalHours;
        while (true)
        {
            // The next event of the merged process: departures at rate live·d, joins at rate j.
            double rate = live.Count * departuresPerPeerHour + (next < maxPeers ? joinsPerHour : 0);
            if (rate <= 0) break;
            t += random.NextExponential(1.0 / rate);
            if (t >= end) break;
            var at = TimeSpan.FromHours(t);
            bool join = random.NextDouble() * rate >= live.Count * departuresPerPeerHour;
            if (join)
            {
                events.Add(new ChurnEvent(at, ChurnKind.Join, next));
                live.Add(next++);
            }
            else if (live.Count > minLive)
            {
                int victim = live[random.Next(live.Count)];
                live.Remove(victim);
                events.Add(new ChurnEvent(at, random.NextDouble() < crashFraction ? ChurnKind.Crash : ChurnKind.Leave, victim));
            }
        }
        return new ChurnSchedule(events);
    }
}
