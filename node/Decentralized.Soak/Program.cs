using Decentralized.Soak;

// decentralized-soak --node path/to/decentralized.dll [--minutes 60] [--out dir] ...: see SoakOptions and scripts/soak.sh.
// Exit 0: nothing grew without bound; 1: a series grew or a process died (one line on stderr says which); 2: bad usage.
SoakOptions options;
try { options = SoakOptions.Parse(args); }
catch (ArgumentException e) { Console.Error.WriteLine($"soak: {e.Message}"); return 2; }

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
Console.WriteLine($"soak: {options.Peers} peers for {options.Minutes:F1} min, kill+restart every {options.KillMinutes:F1} min, joiner every {options.JoinMinutes:F1} min, sample every {options.SampleSeconds:F0} s -> {Path.GetFullPath(options.Output)}");
using var run = new SoakRun(options, Console.Out);
try { await run.RunAsync(stop.Token); }
catch (OperationCanceledException) { Console.WriteLine("soak: interrupted; judging what was sampled"); }
catch (Exception e) { run.Fail($"the harness failed: {e.GetType().Name}: {e.Message}"); }

var samples = run.Samples;
var chart = SoakChart.Draw(Path.Combine(options.Output, "soak.png"), samples);
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
var failures = run.Failures.ToList();
if (peer0.Length > 2 && peer0[^1].Round <= peer0[peer0.Length / 2].Round)
    failures.Add($"peer0 made no round progress in the second half (round {peer0[peer0.Length / 2].Round} -> {peer0[^1].Round})");
if (findings.Count == 0) failures.Add("no process lived long enough to judge (run longer)");
failures.AddRange(findings.Where(f => f.Grows).Select(f =>
    $"{f.Process} {f.Series} grows: {f.SlopePerTenMinutes:F2} {f.Unit}/10min, +{f.Growth:F1} over the second half (allowed {f.Allowed:F1})"));

var summary = new List<string>
{
    $"soak: {runSeconds / 60:F1} min, {samples.Count} samples, {run.Restarts} kill+restarts, {run.Joins} joiners; peer0 round {(peer0.Length > 0 ? peer0[0].Round : double.NaN)} -> {(peer0.Length > 0 ? peer0[^1].Round : double.NaN)}",
};
summary.AddRange(findings.Select(f => f.ToString()));
summary.Add(failures.Count == 0 ? "verdict: PASS (no series grows without bound)" : $"verdict: FAIL ({failures.Count}): " + string.Join("; ", failures));
File.WriteAllLines(Path.Combine(options.Output, "summary.txt"), summary);
foreach (var line in summary) Console.WriteLine(line);
if (failures.Count > 0)
{
    Console.Error.WriteLine($"soak: FAIL: {failures[0]}{(failures.Count > 1 ? $" (+{failures.Count - 1} more in summary.txt)" : "")}");
    return 1;
}
Console.WriteLine($"soak: PASS; {Path.Combine(options.Output, "soak.csv")}, {Path.Combine(options.Output, "soak.png")}");
return 0;
