using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Output;

namespace Decentralized.Simulations.Scenarios;

/// <summary>Mixed GPU speeds: how long peers sit idle, with and without overlapping the exchange with the next round (one-step delay).</summary>
internal static class HeterogeneousScenario
{
    public const string Name = "heterogeneous";

    public static void Run(ScenarioContext ctx)
    {
        var shape = TrainingRuns.Base(ctx, defaultPeers: 8, defaultSteps: 200, quickSteps: 30, defaultH: 20, quickH: 10)
            with { Compute = ctx.Compute(ComputeOptions.VolunteerMix) };
        TrainingRuns.Header(ctx, shape, ("algorithms", "diloco noloco"), ("codec", shape.Codec), ("overlap", "off on"));
        var configs = new List<(string, Node.Training.Algorithm, bool)>
        {
            ("diloco", Algorithm.DiLoCo, false), ("diloco+overlap", Algorithm.DiLoCo, true),
            ("noloco", Algorithm.NoLoCo, false), ("noloco+overlap", Algorithm.NoLoCo, true),
        };
        var runs = TrainingRuns.RunAll(ctx, configs.Select(c => (c.Item1, shape with { Algorithm = c.Item2, Overlap = c.Item3 })));
        TrainingRuns.SaveTables(ctx, runs);
        TrainingRuns.SaveLossCharts(ctx, runs, "Heterogeneous GPUs");
        ctx.Chart(Charts.Bars(ctx.PathOf("idle_fraction.png"), "Share of time peers wait on exchanges", "idle %",
            runs.Select(r => r.Label).ToArray(), runs.Select(r => 100 * r.Result.IdleFraction).ToArray()));
        var byGpu = new CsvTable("run", "gpu", "peers", "mean_idle_fraction");
        foreach (var r in runs)
            foreach (var g in r.Result.Peers.GroupBy(p => p.Gpu).OrderBy(g => g.Key, StringComparer.Ordinal))
                byGpu.Add(r.Label, g.Key, g.Count(), g.Average(p => p.IdleSeconds / Math.Max(1e-9, p.IdleSeconds + p.ComputeSeconds)));
        byGpu.Save(ctx.PathOf("idle_by_gpu.csv"));
        ctx.SaveSummary(s =>
        {
            foreach (var r in runs) s.Set(r.Label.Replace('+', '_') + "_idle_fraction", r.Result.IdleFraction);
            foreach (var r in runs) s.Set(r.Label.Replace('+', '_') + "_sim_seconds", r.Result.SimSeconds);
            TrainingRuns.SummaryRuns(s, runs);
        });
        ctx.SaveReport("Heterogeneous GPUs and the overlap (one-step delay)",
            FormattableString.Invariant($"{shape.Peers} peers draw their GPU from a volunteer mix ({string.Join(", ", ComputeOptions.VolunteerMix.Select(g => FormattableString.Invariant($"{g.Name} {g.RelativeSpeed:0.##}x")))}); ") +
            "every inner step takes the reference step time divided by the GPU's speed, with 5% log-normal noise. Idle time is time a peer waits for an " +
            "exchange to finish: communication plus waiting for slower partners. With the overlap (`--overlap` of `node run`: DiLoCoX / async DiLoCo), round t's exchange runs " +
            "during round t+1's inner steps and its update is applied one round late, keeping the progress made meanwhile. Every peer is the daemon's own peer on the simulated network.",
            new[]
            {
                TrainingRuns.Horizon(shape, runs[0].Result.Parameters, ctx.Options.CorpusPath) + " (`train` has no overlap: the runs without it are the ones it reproduces.)",
                "## Results\n\n" + TrainingRuns.ResultsTable(runs) +
                "\nPer-GPU idle shares are in `idle_by_gpu.csv`: fast GPUs wait for slow ones in DiLoCo, whose rounds wait for every peer; in NoLoCo only for their partner of the round. " +
                "The overlap hides the transfer time but not the straggler wait of a barrier.",
                "![idle](idle_fraction.png)\n\n![loss vs time](loss_vs_time.png)\n\n![loss vs tokens](loss_vs_tokens.png)",
                "Files: `curves.csv`, `runs.csv`, `peers.csv`, `idle_by_gpu.csv`, `summary.json`.",
            });
    }
}
