namespace Decentralized.Soak;

/// <summary>
/// Does a series grow without bound? Over the second half of a process's life, and never its first
/// <see cref="WarmUpSeconds"/> (JIT tiering, the GC growing its budgets, allocator pools, the first checkpoint), we fit a Theil–Sen slope (the median of pairwise slopes, so a GC cycle or one churn
/// spike cannot tilt it) and project it over that half. A series fails when the projection exceeds its allowance:
/// max(absolute, relative × its level). A bounded series (flat, or sawtooth under GC) projects to about zero; a leak
/// of one tensor per round or one socket per reconnect projects to a steady climb.
/// </summary>
public static class GrowthCheck
{
    /// <summary>Growth allowed over the judged half, per series (in the series' unit).</summary>
    public static readonly Dictionary<string, (double Absolute, double Relative)> Allowance = new()
    {
        ["rss_bytes"] = (64, 0.15),            // MiB
        ["managed_heap_bytes"] = (32, 0.25),   // MiB; the GC heap breathes
        ["live_tensors"] = (16, 0.05),        // a healthy peer holds a fixed set; rounds add a transient few
        ["connections"] = (2, 0),              // joiners and restarts come and go
        ["open_files"] = (16, 0.05),
        ["gc_committed_bytes"] = (64, 0.25),   // MiB; the GC keeps free space it may reuse
        ["threads"] = (8, 0.25),               // the thread pool grows and shrinks with load
    };

    /// <summary>The verdict on one series of one process.</summary>
    public sealed record Finding(string Process, string Series, string Unit, double FirstHalfMedian, double SecondHalfMedian, double Max,
        double SlopePerTenMinutes, double Growth, double Allowed)
    {
        public bool Grows => Growth > Allowed;

        /// <summary>Too few points in the judged half (a short life; the heap needs two 150 s floor buckets there).</summary>
        public bool Judged => !double.IsNaN(Growth);

        public override string ToString() => !Judged ? $"{Process,-16} {Series,-19} not judged: lived too short (judged only after a 5-minute warm-up, for at least 3 minutes)" :
            $"{Process,-16} {Series,-19} median {FirstHalfMedian,9:F1} -> {SecondHalfMedian,9:F1} {Unit,-11} max {Max,9:F1}  slope {SlopePerTenMinutes,8:F2}/10min  " +
            $"growth over 2nd half {Growth,8:F1} (allowed {Allowed:F1})  {(Grows ? "GROWS" : "ok")}";
    }

    private static Finding NotJudged(string process, string name, string unit) =>
        new(process, name, unit, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);

    /// <summary>Judges every series of one process's samples (in time order).</summary>
    public static IEnumerable<Finding> Judge(string process, IReadOnlyList<Sample> samples)
    {
        double start = samples[0].Seconds, end = samples[^1].Seconds, middle = start + Math.Max(WarmUpSeconds, (end - start) / 2);
        foreach (var (series, unit, value) in Sample.Series)
        {
            var points = samples.Select(s => (T: s.Seconds, V: value(s))).Where(p => double.IsFinite(p.V)).ToArray();
            bool floor = series == "managed_heap_bytes";
            if (floor) points = Troughs(points, TroughSeconds);
            string name = floor ? "managed_heap_floor" : series;
            var first = points.Where(p => p.T < middle).Select(p => p.V).ToArray();
            var second = points.Where(p => p.T >= middle).ToArray();
            if (first.Length < 1 || second.Length < 2 || end - middle < JudgedSecondsMin) { yield return NotJudged(process, name, unit); continue; }
            double slope = TheilSen(second);
            double growth = slope * (end - middle);
            var (absolute, relative) = Allowance[series];
            double level = Median(second.Select(p => p.V).ToArray());
            yield return new Finding(process, name, unit, Median(first), level, points.Max(p => p.V), slope * 600, growth, Math.Max(absolute, relative * level));
        }
    }

    /// <summary>
    /// A freshly started daemon's memory climbs for its first minutes and then levels (a restarted soak peer: the GC's
    /// committed memory rose for ~5 minutes, then stayed flat for the rest of its life); that climb is not a leak.
    /// </summary>
    public const double WarmUpSeconds = 300;

    /// <summary>A life whose judged part is shorter than this says nothing about growth: reported as not judged.</summary>
    public const double JudgedSecondsMin = 180;

    /// <summary>
    /// The managed heap is a sawtooth (allocations climb until a collection drops them; ~1-2 min per tooth in a 6-minute
    /// run here), and a window holding few teeth gives no fair slope. What a leak raises is the floor after each
    /// collection, so the heap is judged by its minimum per bucket of this many seconds, one point per bucket, stamped at the bucket's end.
    /// Buckets are aligned to the last sample, so only the earliest bucket (warm-up) can be partial.
    /// </summary>
    public const double TroughSeconds = 150;

    public static (double T, double V)[] Troughs((double T, double V)[] points, double bucketSeconds)
    {
        if (points.Length == 0) return points;
        double last = points[^1].T;
        return points.GroupBy(p => Math.Floor((last - p.T) / bucketSeconds))
            .Select(g => (g.Max(p => p.T), g.Min(p => p.V))).OrderBy(p => p.Item1).ToArray();
    }

    /// <summary>Median of the pairwise slopes (at most ~150 evenly spaced points, ~11k pairs).</summary>
    public static double TheilSen(IReadOnlyList<(double T, double V)> points)
    {
        int stride = Math.Max(1, points.Count / 150);
        var p = points.Where((_, i) => i % stride == 0).ToArray();
        var slopes = new List<double>();
        for (int i = 0; i < p.Length; i++)
            for (int j = i + 1; j < p.Length; j++)
                if (p[j].T > p[i].T) slopes.Add((p[j].V - p[i].V) / (p[j].T - p[i].T));
        return slopes.Count == 0 ? 0 : Median(slopes.ToArray());
    }

    public static double Median(double[] values)
    {
        if (values.Length == 0) return double.NaN;
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
