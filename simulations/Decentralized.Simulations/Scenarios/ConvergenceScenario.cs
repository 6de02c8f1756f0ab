using Decentralized.Node.Training;
using Decentralized.Simulations.Output;

namespace Decentralized.Simulations.Scenarios;

/// <summary>DDP vs DiLoCo vs NoLoCo at equal tokens on a WAN: loss vs tokens, loss vs simulated wall-clock, bytes sent.</summary>
internal static class ConvergenceScenario
{
    public const string Name = "convergence";

    public static void Run(ScenarioContext ctx)
    {
        var shape = TrainingRuns.Base(ctx, defaultPeers: 4, defaultSteps: 400, quickSteps: 40, defaultH: 25, quickH: 10);
        TrainingRuns.Header(ctx, shape, ("algorithms", "ddp diloco noloco"), ("codec", shape.Codec), ("train_equivalent", TrainingRuns.TrainCommand(shape, "diloco", ctx.Options.CorpusPath)));
        var runs = TrainingRuns.RunAll(ctx, new[] { Algorithm.Ddp, Algorithm.DiLoCo, Algorithm.NoLoCo }
            .Select(a => (a.Name(), shape with { Algorithm = a, Codec = a == Algorithm.Ddp ? "fp32" : shape.Codec })));
        TrainingRuns.SaveTables(ctx, runs);
        TrainingRuns.SaveLossCharts(ctx, runs, "DDP vs DiLoCo vs NoLoCo");
        ctx.Chart(Charts.Bars(ctx.PathOf("bytes_sent.png"), "Bytes sent per replica (represented model)", "GB",
            runs.Select(r => r.Label).ToArray(), runs.Select(r => r.Result.RepresentedBytesPerReplica / 1e9).ToArray()));
        var ddp = runs[0].Result;
        var diloco = runs[1].Result;
        var noloco = runs[2].Result;
        ctx.SaveSummary(s =>
        {
            s.Set("ddp_final_val_loss", ddp.FinalValidationLoss).Set("diloco_final_val_loss", diloco.FinalValidationLoss)
                .Set("noloco_final_val_loss", noloco.FinalValidationLoss)
                .Set("diloco_gap_to_ddp", diloco.FinalValidationLoss / ddp.FinalValidationLoss - 1)
                .Set("noloco_gap_to_ddp", noloco.FinalValidationLoss / ddp.FinalValidationLoss - 1)
                .Set("ddp_over_diloco_time", ddp.SimSeconds / diloco.SimSeconds)
                .Set("ddp_over_noloco_time", ddp.SimSeconds / noloco.SimSeconds)
                .Set("ddp_over_diloco_bytes", (double)ddp.BytesSentPerReplica / diloco.BytesSentPerReplica)
                .Set("ddp_over_noloco_bytes", (double)ddp.BytesSentPerReplica / noloco.BytesSentPerReplica)
                .Set("noloco_replica_spread", noloco.ReplicaSpread);
            TrainingRuns.SummaryRuns(s, runs);
        });
        ctx.SaveReport("Convergence: DDP vs DiLoCo vs NoLoCo on a WAN",
            FormattableString.Invariant($"{shape.Peers} replicas of a small byte-level transformer ({ddp.Parameters:N0} parameters) train on the same tokens with each method. ") +
            "DiLoCo and NoLoCo run as swarms of the daemon's own peer (its round engine, codecs and update streams) on the simulated network; DDP is `train`'s own run. " +
            "Losses come from real TorchSharp training; time comes from the compute model (each inner step takes the reference step time) and the network model " +
            FormattableString.Invariant($"({ctx.Options.BandwidthGbps:0.###} Gbit/s per peer, {ctx.Options.LatencyMs:0.#} ms one-way). ") +
            FormattableString.Invariant($"Link capacities are scaled so that the real bytes of the small model take as long as those of a {shape.RepresentedParameters / 1e6:0.#}M-parameter model would; ") +
            "DDP all-reduces fp32 gradients every step (ring), DiLoCo sends its pseudo-gradient to every other peer every H steps (the daemon's all-gather), NoLoCo sends its update to one random partner every H steps.",
            new[]
            {
                TrainingRuns.Horizon(shape, ddp.Parameters, ctx.Options.CorpusPath),
                "## Results\n\n" + TrainingRuns.ResultsTable(runs) +
                FormattableString.Invariant($"\nAt equal tokens, DiLoCo ends {100 * (diloco.FinalValidationLoss / ddp.FinalValidationLoss - 1):+0.0;-0.0}% and NoLoCo {100 * (noloco.FinalValidationLoss / ddp.FinalValidationLoss - 1):+0.0;-0.0}% from DDP's loss, ") +
                FormattableString.Invariant($"while DDP needs {ddp.SimSeconds / diloco.SimSeconds:0.0}x DiLoCo's and {ddp.SimSeconds / noloco.SimSeconds:0.0}x NoLoCo's simulated time and sends {(double)ddp.BytesSentPerReplica / diloco.BytesSentPerReplica:0}x and {(double)ddp.BytesSentPerReplica / noloco.BytesSentPerReplica:0}x their bytes. ") +
                FormattableString.Invariant($"NoLoCo's replicas end within {100 * noloco.ReplicaSpread:0.###}% (mean relative L2) of their mean."),
                "![loss vs tokens](loss_vs_tokens.png)\n\n![loss vs time](loss_vs_time.png)\n\n![bytes](bytes_sent.png)",
                "Files: `curves.csv` (every evaluation), `runs.csv`, `peers.csv` (per replica: compute, idle, bytes), `summary.json`.",
            });
    }
}
