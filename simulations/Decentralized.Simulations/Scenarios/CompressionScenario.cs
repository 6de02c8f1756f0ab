using Decentralized.Node.Training;
using Decentralized.Simulations.Output;

namespace Decentralized.Simulations.Scenarios;

/// <summary>DiLoCo with fp32, int8, 4-bit + error feedback and top-k + error feedback pseudo-gradients.</summary>
internal static class CompressionScenario
{
    public const string Name = "compression";

    /// <summary>The chains compared (kernels' names).</summary>
    public static readonly string[] Chains = ["fp32", "q8", "q4+ef", "topk:0.05+ef"];

    public static void Run(ScenarioContext ctx)
    {
        var shape = TrainingRuns.Base(ctx, defaultPeers: 4, defaultSteps: 400, quickSteps: 40, defaultH: 25, quickH: 10) with { Algorithm = Algorithm.DiLoCo };
        TrainingRuns.Header(ctx, shape, ("algorithm", "diloco"), ("codecs", string.Join(" ", Chains)), ("train_equivalent", TrainingRuns.TrainCommand(shape, "diloco", ctx.Options.CorpusPath)));
        var runs = TrainingRuns.RunAll(ctx, Chains.Select(c => (c, shape with { Codec = c })));
        TrainingRuns.SaveTables(ctx, runs);
        TrainingRuns.SaveLossCharts(ctx, runs, "DiLoCo pseudo-gradient compression");
        ctx.Chart(Charts.Bars(ctx.PathOf("bytes_sent.png"), "Bytes sent per replica (represented model)", "GB",
            runs.Select(r => r.Label).ToArray(), runs.Select(r => r.Result.RepresentedBytesPerReplica / 1e9).ToArray()));
        var fp32 = runs[0].Result;
        ctx.SaveSummary(s =>
        {
            s.Set("fp32_final_val_loss", fp32.FinalValidationLoss);
            s.List("relative_to_fp32", runs.Skip(1), (e, r) => e.Set("codec", r.Label)
                .Set("loss_change", r.Result.FinalValidationLoss / fp32.FinalValidationLoss - 1)
                .Set("bytes_ratio", (double)fp32.BytesSentPerReplica / r.Result.BytesSentPerReplica)
                .Set("time_ratio", fp32.SimSeconds / r.Result.SimSeconds));
            TrainingRuns.SummaryRuns(s, runs);
        });
        var lines = string.Join("\n", runs.Skip(1).Select(r => FormattableString.Invariant(
            $"- `{r.Label}`: {(double)fp32.BytesSentPerReplica / r.Result.BytesSentPerReplica:0.0}x fewer bytes, loss {100 * (r.Result.FinalValidationLoss / fp32.FinalValidationLoss - 1):+0.00;-0.00}% vs fp32, {fp32.SimSeconds / r.Result.SimSeconds:0.00}x the speed.")));
        ctx.SaveReport("Compression of DiLoCo pseudo-gradients",
            FormattableString.Invariant($"{shape.Peers} DiLoCo replicas, identical except for the codec chain their pseudo-gradients go through. ") +
            "Each replica is the daemon's own peer: its round engine encodes Δ with the kernels' real encoder (error-feedback residuals kept per sender) and sends the blob to every other peer, " +
            "and every peer averages the decoded blobs, so the loss reflects exactly what crossed the wire; bytes are what each peer put on the simulated wire (updates, membership, framing).",
            new[]
            {
                TrainingRuns.Horizon(shape, fp32.Parameters, ctx.Options.CorpusPath) + " Each run's `--compress` is its chain.",
                "## Results\n\n" + TrainingRuns.ResultsTable(runs) + "\n" + lines,
                "![loss vs tokens](loss_vs_tokens.png)\n\n![loss vs time](loss_vs_time.png)\n\n![bytes](bytes_sent.png)",
                "Files: `curves.csv`, `runs.csv`, `peers.csv`, `summary.json`.",
            });
    }
}
