namespace Decentralized.Cli;

/// <summary>
/// Measured per-peer throughput: the daemon samples each connection's byte counters about once a second and the
/// rate is the change over the last <see cref="Window"/>. A window (not the lifetime average) so that a link that
/// stalls shows it within seconds; 10 s spans several heartbeats, so an idle but healthy link still reads above zero.
/// </summary>
public sealed class TrafficMeter
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    /// <summary>Samples kept per peer; one per second fills the window with room to spare.</summary>
    private const int SamplesMax = 64;

    private readonly Dictionary<string, Queue<(TimeSpan At, long In, long Out)>> _samples = new();

    /// <summary>Records the counters of every connected peer at <paramref name="now"/>; peers not listed are forgotten.</summary>
    public void Sample(TimeSpan now, IEnumerable<(string Peer, long BytesIn, long BytesOut)> counters)
    {
        lock (_samples)
        {
            var seen = new HashSet<string>();
            foreach (var (peer, bytesIn, bytesOut) in counters)
            {
                seen.Add(peer);
                if (!_samples.TryGetValue(peer, out var queue)) _samples[peer] = queue = new Queue<(TimeSpan, long, long)>();
                queue.Enqueue((now, bytesIn, bytesOut));
                // Keep one sample at or before the window's start so the rate spans the whole window.
                while (queue.Count > SamplesMax || (queue.Count > 2 && now - queue.ElementAt(1).At >= Window)) queue.Dequeue();
            }
            foreach (var gone in _samples.Keys.Where(k => !seen.Contains(k)).ToArray()) _samples.Remove(gone);
        }
    }

    /// <summary>Bytes per second in and out over the window; zeros until two samples exist.</summary>
    public (double InPerSecond, double OutPerSecond) Rate(string peer)
    {
        lock (_samples)
        {
            if (!_samples.TryGetValue(peer, out var queue) || queue.Count < 2) return (0, 0);
            var first = queue.Peek();
            var last = queue.Last();
            double seconds = (last.At - first.At).TotalSeconds;
            if (seconds <= 0) return (0, 0);
            // A reconnect restarts the counters: never report a negative rate.
            return (Math.Max(0, last.In - first.In) / seconds, Math.Max(0, last.Out - first.Out) / seconds);
        }
    }
}
