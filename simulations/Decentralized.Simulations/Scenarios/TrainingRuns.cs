using System.Globalization;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using Decentralized.Simulations.Output;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// Shared pieces of the training scenarios: the run shape, running a labelled set of runs, curve files and charts.
/// DiLoCo and NoLoCo runs are swarms of the daemon's own peer (<see cref="SwarmSimulation"/>), so their outer rounds
/// are the round engine's; DDP, which has no outer round, is <c>train</c>'s own run timed on the network model.
/// </summary>
internal static class TrainingRuns
{
    /// <summary>A labelled run and its result.</summary>
    public sealed record Labelled(string Label, SwarmSimulationOptions Options, TrainingRunResult Result);

    /// <summary>
    /// The run shape from the command line (quick: a narrow model and a few dozen steps). The model is the <c>tiny</c>
    /// preset with a narrower width where needed, so <c>train --model tiny --dim D --heads N</c> builds the same one.
    /// </summary>
    public static SwarmSimulationOptions Base(ScenarioContext ctx, int defaultPeers, int defaultSteps, int quickSteps, int defaultH, int quickH, bool tinyModel = false, int quickPeers = 4)
    {
        var o = ctx.Options;
        int h = o.InnerSteps ?? (o.Quick ? quickH : defaultH);
        // Whole rounds only: a swarm ends on a round, and the last one consolidates.
        int rounds = Math.Max(1, (o.Steps ?? (o.Quick ? quickSteps : defaultSteps)) / h);
        int steps = rounds * h;
        var model = o.Quick || tinyModel ? ModelConfig.Tiny with { Dim = 32, Heads = 2 } : ModelConfig.Tiny with { Dim = 48 };
        int sequence = o.Quick || tinyModel ? 32 : model.ContextLength;
        return new SwarmSimulationOptions
        {
            Peers = o.Peers ?? (o.Quick ? Math.Min(quickPeers, defaultPeers) : defaultPeers),
            Rounds = rounds,
            InnerStepsPerRound = h,
            Model = model,
            Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: Math.Max(2, steps / 20), TotalSteps: steps, MicroBatchSize: 8, SequenceLength: sequence),
            EvalBatches = o.Quick ? 2 : 8,
            Codec = o.Codec,
            RepresentedParameters = o.RepresentedParameters,
            Network = ctx.Network(),
            Compute = ctx.Compute(),
            Seed = o.Seed,
            Limit = TimeSpan.FromDays(30),
        };
    }

    /// <summary>Prints the knobs of the shared run shape plus the scenario's own.</summary>
    public static void Header(ScenarioContext ctx, SwarmSimulationOptions shape, params (string, string)[] extra)
    {
        var c = CultureInfo.InvariantCulture;
        var m = shape.Model;
        var i = shape.Inner;
        ctx.Header(new (string, string)[]
        {
            ("replicas", shape.Peers.ToString(c)),
            ("inner_steps_per_round", shape.InnerStepsPerRound.ToString(c)),
            ("rounds", shape.Rounds.ToString(c)),
            ("steps_per_replica", (shape.Rounds * shape.InnerStepsPerRound).ToString(c)),
            ("sync_warmup_steps", "0"),
            ("model", FormattableString.Invariant($"vocab {m.VocabSize}, dim {m.Dim}, layers {m.Layers}, heads {m.Heads}, context {m.ContextLength}")),
            ("inner", FormattableString.Invariant($"lr {i.LearningRate}, warmup {i.WarmupSteps}, min lr ratio {i.MinLearningRateRatio}, batch {i.MicroBatchSize}x{i.SequenceLength}")),
            ("diloco", FormattableString.Invariant($"lr {shape.DiLoCo.LearningRate}, momentum {shape.DiLoCo.Momentum}, {shape.DiLoCo.Form}")),
            ("noloco", FormattableString.Invariant($"alpha {shape.NoLoCo.Alpha}, beta {shape.NoLoCo.Beta}, gamma {shape.NoLoCo.EffectiveGamma}, group {shape.NoLoCo.GroupSize}")),
            ("represented_parameters", shape.RepresentedParameters.ToString(c)),
            ("round_timeout_s", shape.RoundTimeout.TotalSeconds.ToString("0.###", c)),
            ("eval_batches", shape.EvalBatches.ToString(c)),
        }.Concat(shape.Network.Describe()).Concat(shape.Compute.Describe()).Concat(extra));
    }

    /// <summary>
    /// The horizon, settings and scale in one paragraph, and the <c>train</c> command that reproduces a run's numbers
    /// (the simulator adds only time: with no faults the swarm ends where <c>train</c> ends).
    /// </summary>
    public static string Horizon(SwarmSimulationOptions shape, long parameters, string? data) =>
        FormattableString.Invariant(
            $"**Horizon and scale.** H = {shape.InnerStepsPerRound} inner steps per outer round, {shape.Rounds} rounds ({shape.Rounds * shape.InnerStepsPerRound} steps per replica, ") +
        FormattableString.Invariant(
            $"{shape.Rounds * shape.InnerStepsPerRound * (long)shape.Inner.MicroBatchSize * shape.Inner.SequenceLength:N0} tokens per replica) from scratch, with no synchronous warm-up; ") +
        FormattableString.Invariant(
            $"{shape.Peers} replicas of a {parameters:N0}-parameter model (dim {shape.Model.Dim}, {shape.Model.Layers} layers), batch {shape.Inner.MicroBatchSize} x {shape.Inner.SequenceLength} tokens, inner lr {shape.Inner.LearningRate}; ") +
        "the last round hands over the members' average. The gaps between methods depend on this horizon and scale: they are not the README's 2,000-step figures. " +
        "The same numbers (final validation loss to 1e-4, without the simulated time) from `train`: `" + TrainCommand(shape, "diloco", data) + "` (or `--algorithm ddp` / `noloco`).";

    /// <summary>The <c>decentralized train</c> command line of one run of this shape.</summary>
    public static string TrainCommand(SwarmSimulationOptions o, string algorithm, string? data) => FormattableString.Invariant(
        $"decentralized train --replicas {o.Peers} --algorithm {algorithm} --inner-steps {o.InnerStepsPerRound} --steps {o.Rounds * o.InnerStepsPerRound} --compress {o.Codec} ") +
        FormattableString.Invariant(
            $"--model tiny --dim {o.Model.Dim} --heads {o.Model.Heads} --layers {o.Model.Layers} --seq-len {o.Inner.SequenceLength} --batch-size {o.Inner.MicroBatchSize} ") +
        FormattableString.Invariant(
            $"--lr {o.Inner.LearningRate} --warmup {o.Inner.WarmupSteps} --eval-every 0 --eval-batches {o.EvalBatches} --seed {o.Seed} --device cpu --threads 1") +
        (data is null ? "" : $" --data {data}");

    /// <summary>What <c>train</c> builds from <see cref="TrainCommand"/>.</summary>
    public static ComparisonOptions Comparison(SwarmSimulationOptions o, Algorithm algorithm) => new()
    {
        Replicas = o.Peers,
        Algorithm = algorithm,
        InnerStepsPerRound = o.InnerStepsPerRound,
        StepsPerReplica = checked((int)o.Rounds * o.InnerStepsPerRound),
        Model = o.Model,
        Inner = o.Inner,
        DiLoCo = o.DiLoCo,
        NoLoCo = o.NoLoCo,
        NoLoCoWire = o.Payload,
        EvalEvery = 0,
        EvalBatches = o.EvalBatches,
        Seed = o.Seed,
    };

    /// <summary>Runs each configuration in turn, logging progress.</summary>
    public static List<Labelled> RunAll(ScenarioContext ctx, IEnumerable<(string Label, SwarmSimulationOptions Options)> runs)
    {
        var results = new List<Labelled>();
        foreach (var (label, options) in runs)
        {
            ctx.Log.WriteLine($"run {label}:");
            var result = TrainingRun.Run(ctx, options);
            ctx.Log.WriteLine(FormattableString.Invariant(
                $"  {label}: val {result.InitialValidationLoss:0.000} -> {result.FinalValidationLoss:0.000}, {result.SimSeconds / 3600:0.00} h simulated, {result.RepresentedBytesPerReplica / 1e9:0.##} GB/replica (represented), idle {result.IdleFraction:P1}"));
            results.Add(new Labelled(label, options, result));
        }
        return results;
    }

    /// <summary>curves.csv (one row per evaluation), runs.csv (one row per run), peers.csv (one row per peer and run).</summary>
    public static void SaveTables(ScenarioContext ctx, IReadOnlyList<Labelled> runs)
    {
        var curves = new CsvTable("run", "step", "tokens", "sim_seconds", "val_loss", "train_loss");
        foreach (var r in runs)
            foreach (var p in r.Result.Curve) curves.Add(r.Label, p.Step, p.Tokens, p.SimSeconds, p.ValidationLoss, p.TrainLoss);
        curves.Save(ctx.PathOf("curves.csv"));
        var table = new CsvTable("run", "algorithm", "codec", "payload", "replicas", "tokens", "initial_val_loss", "final_val_loss", "sim_seconds",
            "bytes_sent_per_replica", "represented_bytes_per_replica", "idle_fraction", "replica_spread");
        foreach (var r in runs)
        {
            var x = r.Result;
            table.Add(r.Label, x.Algorithm, x.Codec, x.Payload, x.Replicas, x.Tokens, x.InitialValidationLoss, x.FinalValidationLoss, x.SimSeconds,
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
        var md = new System.Text.StringBuilder("| run | payload | final val loss | simulated time | GB sent per replica (represented) | bytes sent per replica (trained model) | idle | replica spread |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in runs)
        {
            var x = r.Result;
            md.Append(FormattableString.Invariant(
                $"| {r.Label} | {x.Payload} | {x.FinalValidationLoss:0.0000} | {Duration(x.SimSeconds)} | {x.RepresentedBytesPerReplica / 1e9:0.###} | {x.BytesSentPerReplica:N0} | {x.IdleFraction:P1} | {x.ReplicaSpread:0.####} |\n"));
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
        .Set("run", r.Label).Set("algorithm", r.Result.Algorithm).Set("codec", r.Result.Codec).Set("payload", r.Result.Payload)
        .Set("inner_steps_per_round", r.Options.InnerStepsPerRound).Set("rounds", r.Options.Rounds)
        .Set("final_val_loss", r.Result.FinalValidationLoss).Set("initial_val_loss", r.Result.InitialValidationLoss)
        .Set("sim_seconds", r.Result.SimSeconds).Set("bytes_sent_per_replica", r.Result.BytesSentPerReplica)
        .Set("represented_bytes_per_replica", r.Result.RepresentedBytesPerReplica).Set("idle_fraction", r.Result.IdleFraction)
        .Set("replica_spread", r.Result.ReplicaSpread).Set("tokens", r.Result.Tokens));
}
