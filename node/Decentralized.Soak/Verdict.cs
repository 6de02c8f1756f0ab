namespace Decentralized.Soak;

/// <summary>The end of a soak: soak.png, the growth verdict per long-lived process, summary.txt and the exit code.</summary>
public static class Verdict
{
    /// <summary>Charts and judges <paramref name="samples"/>; prints the summary; returns 0 (pass) or 1 (fail, one line on stderr).</summary>
    public static int Report(IReadOnlyList<Sample> samples, IReadOnlyList<string> knownFailures, int restarts, int joins, string output)
    {
        var chart = SoakChart.Draw(Path.Combine(output, "soak.png"), samples);
        if (chart is not null) Console.Error.WriteLine($"soak: {chart}");

        // Judge the processes that lived long enough to have a meaningful second half: peer0 always, restarted peers when
        // their life spanned at least 40% of the run.
        double runSeconds = samples.Count == 0 ? 0 : samples.Max(s => s.Seconds);
        var findings = new List<GrowthCheck.Finding>();
        foreach (var g in samples.Where(s => s.Role == "peer").GroupBy(s => (s.Process, s.Pid)))
        {
            var life = g.OrderBy(s => s.Seconds).ToArray();
            if (life.Length < 12 || life[^1].Seconds - life[0].Seconds < 0.4 * runSeconds) continue;
            findings.AddRange(GrowthCheck.Judge($"{g.Key.Process}/{g.Key.Pid}", life));
        }

        var peer0 = samples.Where(s => s.Process == "peer0" && double.IsFinite(s.Round)).ToArray();
        var failures = knownFailures.ToList();
        if (peer0.Length > 2 && peer0[^1].Round <= peer0[peer0.Length / 2].Round)
            failures.Add($"peer0 made no round progress in the second half (round {peer0[peer0.Length / 2].Round} -> {peer0[^1].Round})");
        if (findings.Count(f => f.Judged) == 0) failures.Add("no process lived long enough to judge (run longer)");
        // peer0 is the witness of the whole run: every one of its series must be judged, or the verdict says nothing.
        failures.AddRange(findings.Where(f => !f.Judged && f.Process.StartsWith("peer0/", StringComparison.Ordinal))
            .Select(f => $"{f.Process} {f.Series} could not be judged (run longer)"));
        failures.AddRange(findings.Where(f => f.Grows).Select(f =>
            $"{f.Process} {f.Series} grows: {f.SlopePerTenMinutes:F2} {f.Unit}/10min, +{f.Growth:F1} over the second half (allowed {f.Allowed:F1})"));

        var summary = new List<string>
        {
            $"soak: {runSeconds / 60:F1} min, {samples.Count} samples, {restarts} kill+restarts, {joins} joiners; peer0 round {(peer0.Length > 0 ? peer0[0].Round : double.NaN)} -> {(peer0.Length > 0 ? peer0[^1].Round : double.NaN)}",
        };
        summary.AddRange(findings.Select(f => f.ToString()));
        summary.Add(failures.Count == 0 ? "verdict: PASS (no series grows without bound)" : $"verdict: FAIL ({failures.Count}): " + string.Join("; ", failures));
        File.WriteAllLines(Path.Combine(output, "summary.txt"), summary);
        foreach (var line in summary) Console.WriteLine(line);
        if (failures.Count > 0)
        {
            Console.Error.WriteLine($"soak: FAIL: {failures[0]}{(failures.Count > 1 ? $" (+{failures.Count - 1} more in summary.txt)" : "")}");
            return 1;
        }
        Console.WriteLine($"soak: PASS; {Path.Combine(output, "soak.csv")}, {Path.Combine(output, "soak.png")}");
        return 0;
    }
}
