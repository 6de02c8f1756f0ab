using Decentralized.Soak;

// decentralized-soak --node path/to/decentralized.dll [--minutes 60] [--out dir] ...: see SoakOptions and scripts/soak.sh.
// Exit 0: nothing grew without bound; 1: a series grew or a process died (one line on stderr says which); 2: bad usage.
// decentralized-soak --judge soak.csv [--out dir]: judge (and chart) a finished run's CSV again, e.g. after a change of allowances.
if (args.Length >= 2 && args[0] == "--judge")
{
    var output = args.Length >= 4 && args[2] == "--out" ? args[3] : Path.GetDirectoryName(Path.GetFullPath(args[1]))!;
    Directory.CreateDirectory(output);
    var loaded = File.ReadLines(args[1]).Skip(1).Select(Sample.Parse).ToList();
    int restarts = loaded.Where(x => x.Role == "peer").Select(x => (x.Process, x.Pid)).Distinct().Count() - loaded.Where(x => x.Role == "peer").Select(x => x.Process).Distinct().Count();
    int joins = loaded.Where(x => x.Role == "joiner").Select(x => x.Process).Distinct().Count();
    return Verdict.Report(loaded, [], restarts, joins, output);
}

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
return Verdict.Report(run.Samples, run.Failures, run.Restarts, run.Joins, options.Output);
