using System.Globalization;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using Decentralized.Simulations.Output;
using Decentralized.Simulations.Training;

namespace Decentralized.Simulations.Scenarios;

/// <summary>Shared pieces of the training scenarios: default run shape, running a labelled set of runs, curve files and charts.</summary>
internal static class TrainingRuns
{
    /// <summary>A labelled run and its result.</summary>
    public sealed record Labelled(string Label, SimTrainingOptions Options, SimTrainingResult Result);

    /// <summary>The run shape from the command line (quick: a tiny model and a few dozen steps).</summary>
    public static SimTrainingOptions Base(ScenarioContext ctx, int defaultPeers, int defaultSteps, int quickSteps, int defaultH, int quickH, bool tinyModel = false, int quickPeers = 4)
    {
        var o = ctx.Options;
        int steps = o.Steps ?? (o.Quick ? quickSteps : defaultSteps);
        int h = o.InnerSteps ?? (o.Quick ? quickH : defaultH);
        var model = o.Quick || tinyModel ? new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32)
                            : new ModelConfig(VocabSize: 256, Dim: 48, Layers: 2, Heads: 4, ContextLength: 64);
        return new SimTrainingOptions
        {
            Replicas = o.Peers ?? (o.Quick ? Math.Min(quickPeers, defaultPeers) : defaultPeers),
            StepsPerReplica = steps,
            InnerStepsPerRound = h,
            Model = model,
            Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: Math.Max(2, steps / 20), MicroBatchSize: 8, SequenceLength: model.ContextLength),
            EvalEvery = Math.Max(h, steps / 12 / h * h),
            EvalBatches = o.Quick ? 2 : 8,
            Codec = o.Codec,
            RepresentedParameters = o.RepresentedParameters,
            Network = ctx.Network(),
            Compute = ctx.Compute(),
            Seed = o.Seed,
        };
    }

    /// <summary>Prints the knobs of the shared run shape plus the scenario's own.</summary>
    public static void Header(ScenarioContext ctx, SimTrainingOptions shape, params (string, string)[] extra) =>
        ctx.Header(shape.Describe().Where(k => k.Name is not ("algorithm" or "codec" or "one_step_delay")).Concat(extra));

    /// <summary>Runs each configuration in turn, logging progress.</summary>
    public static List<Labelled> RunAll(ScenarioContext ctx, IEnumerable<(string Label, SimTrainingOptions Options)> runs)
    {
        var results = new List<Labelled>();
        foreach (var (label, options) in runs)
        {
            ctx.Log.WriteLine($"run {label}:");
            using var sim = new TrainingSimulation(options, ctx.Data, ctx.Log);
            var result = sim.Run();
            ctx.Log.WriteLine(FormattableString.Invariant(
                $"  {label}: val {result.InitialValidationLoss:0.000} -> {result.FinalValidationLoss:0.000}, {result.SimSeconds / 3600:0.00} h simulated, {result.RepresentedBytesPerReplica / 1e9:0.##} GB/replica (represented), idle {result.IdleFraction:P1}"));
            results.Add(new Labelled(label, options, result));
        }
        return results;
    }

    /// <summary>curves.csv (one row per evaluation) and runs.csv (one row per run).</summary>
    public static void SaveTables(ScenarioContext ctx, IReadOnlyList<Labelled> runs)
    {
        var curves = new CsvTable("run", "step", "tokens", "sim_seconds", "val_loss", "train_loss");
        foreach (var r in runs)
            foreach (var p in r.Result.Curve) curves.Add(r.Label, p.Step, p.Tokens, p.SimSeconds, p.ValidationLoss, p.TrainLoss);
        curves.Save(ctx.PathOf("curves.csv"));
        var table = new CsvTable("run", "algorithm", "codec", "replicas", "tokens", "initial_val_loss", "final_val_loss", "sim_seconds",
            "bytes_sent_per_replica", "represented_bytes_per_replica", "idle_fraction", "replica_spread");
        foreach (var r in runs)
        {
            var x = r.Result;
            table.Add(r.Label, x.Algorithm, x.Codec, x.Replicas, x.Tokens, x.InitialValidationLoss, x.FinalValidationLoss, x.SimSeconds,
                x.BytesSentPerReplica, x.RepresentedBytesPerReplica, x.IdleFraction, x.ReplicaSpread);
        }
        table.Save(ctx.PathOf("runs.csv"));
        var peers = new CsvTable("run", "peer", "gpu", "compute_seconds", "idle_seconds", "bytes_sent", "rounds");
        foreach (var r in runs)
            foreach (var p in r.Result.Peers) peers.Add(r.Label, p.Peer, p.Gpu, p.ComputeSeconds, p.IdleSeconds, p.BytesSent, p.Rounds);
        peers.Save(ctx.PathOf("peers.csv"));
    }

    /// <summary>Loss against tokens and against simulated hours.</summary>
    public static void SaveLossCharts(ScenarioContext ctx, IReadOnlyList<Labelled> runs, string title)
    {
        ctx.Chart(Charts.Lines(ctx.PathOf("loss_vs_tokens.png"), title + ": validation loss vs tokens", "tokens (all replicas)", "validation loss",
            runs.Select(r => new Charts.Series(r.Label, r.Result.Curve.Select(p => (double)p.Tokens).ToArray(), r.Result.Curve.Select(p => p.ValidationLoss).ToArray())).ToArray()));
        ctx.Chart(Charts.Lines(ctx.PathOf("loss_vs_time.png"), title + ": validation loss vs simulated time", "simulated hours", "validation loss",
            runs.Select(r => new Charts.Series(r.Label, r.Result.Curve.Select(p => p.SimSeconds / 3600).ToArray(), r.Result.Curve.Select(p => p.ValidationLoss).ToArray())).ToArray()));
    }

    /// <summary>The markdown results table shared by the training reports.</summary>
    public static string ResultsTable(IReadOnlyList<Labelled> runs)
    {
        var md = new System.Text.StringBuilder("| run | final val loss | simulated time | GB sent per replica (represented) | bytes sent per replica (trained model) | idle | replica spread |\n|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in runs)
        {
            var x = r.Result;
            md.Append(FormattableString.Invariant(
                $"| {r.Label} | {x.FinalValidationLoss:0.0000} | {Duration(x.SimSeconds)} | {x.RepresentedBytesPerReplica / 1e9:0.###} | {x.BytesSentPerReplica:N0} | {x.IdleFraction:P1} | {x.ReplicaSpread:0.####} |\n"));
        }
        return md.ToString();
    }

    /// <summary>Human duration of virtual seconds.</summary>
    public static string Duration(double seconds) => seconds >= 3600
        ? (seconds / 3600).ToString("0.00", CultureInfo.InvariantCulture) + " h"
        : seconds >= 60 ? (seconds / 60).ToString("0.0", CultureInfo.InvariantCulture) + " min"
        : seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    /// <summary>Per-run figures for summary.json.</summary>
    public static void SummaryRuns(Summary s, IReadOnlyList<Labelled> runs) => s.List("runs", runs, (e, r) => e
        .Set("run", r.Label).Set("algorithm", r.Result.Algorithm).Set("codec", r.Result.Codec)
        .Set("final_val_loss", r.Result.FinalValidationLoss).Set("initial_val_loss", r.Result.InitialValidationLoss)
        .Set("sim_seconds", r.Result.SimSeconds).Set("bytes_sent_per_replica", r.Result.BytesSentPerReplica)
        .Set("represented_bytes_per_replica", r.Result.RepresentedBytesPerReplica).Set("idle_fraction", r.Result.IdleFraction)
        .Set("replica_spread", r.Result.ReplicaSpread).Set("tokens", r.Result.Tokens));
}
