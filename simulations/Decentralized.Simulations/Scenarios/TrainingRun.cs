using Decentralized.Node.Training;
using Decentralized.Simulations.Collectives;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using Decentralized.Simulations.Swarm;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Scenarios;

/// <summary>The outcome of one training run of a scenario, whichever way it ran.</summary>
internal sealed record TrainingRunResult(string Algorithm, string Codec, string Payload, int Replicas, long Parameters, long Tokens,
    double InitialValidationLoss, double FinalValidationLoss, double SimSeconds, long BytesSentPerReplica, double RepresentedBytesPerReplica,
    double IdleFraction, double ReplicaSpread, IReadOnlyList<SwarmLossPoint> Curve, IReadOnlyList<PeerReport> Peers,
    IReadOnlyList<(double SimSeconds, string Kind, int Peer, int Live)> Churn);

/// <summary>Per-peer accounting of a run: virtual compute and idle (waiting on exchanges) seconds, wire bytes, rounds.</summary>
internal sealed record PeerReport(int Peer, string Gpu, double ComputeSeconds, double IdleSeconds, long BytesSent, long Rounds);

/// <summary>Runs one configuration: DiLoCo and NoLoCo as a swarm of daemons, DDP as <c>train</c> timed on the network model.</summary>
internal static class TrainingRun
{
    public static TrainingRunResult Run(ScenarioContext ctx, SwarmSimulationOptions o) => o.Algorithm == Algorithm.Ddp ? Ddp(ctx, o) : Swarm(ctx, o);

    private static TrainingRunResult Swarm(ScenarioContext ctx, SwarmSimulationOptions o)
    {
        var sim = new SwarmSimulation(o, ctx.Data);
        sim.OnEvaluation = p => Progress(ctx, o, p);
        try
        {
            var r = sim.Run();
            var peers = sim.Peers.Select(p => new PeerReport(p.Index, p.Compute.Gpu.Name, p.ComputeSeconds, p.Peer.Stats.WaitSeconds,
                sim.Network.Flow.BytesSent(p.Net.Node), p.Rounds.Count)).ToArray();
            var first = sim.Peers.First(p => !p.Gone && p.Joined);
            var curve = sim.Curve.Append(new SwarmLossPoint(first.Losses.Count, r.Tokens, r.SimSeconds, r.FinalValidationLoss,
                first.Losses.Count > 0 ? first.Losses[^1].Loss : double.NaN)).ToArray();
            long bytes = (long)peers.Average(p => (double)p.BytesSent);
            return new TrainingRunResult(o.Algorithm.Name(), o.Codec, PayloadName(o.Algorithm, first.Peer.Payload), o.Peers, sim.Parameters, r.Tokens,
                r.InitialValidationLoss, r.FinalValidationLoss, r.SimSeconds, bytes, bytes / Scale(o, sim.Parameters),
                peers.Average(p => p.IdleSeconds / Math.Max(1e-9, p.IdleSeconds + p.ComputeSeconds)), Spread(r.SurvivorWeights), curve, peers, sim.Membership.ToArray());
        }
        finally
        {
            sim.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static string PayloadName(Algorithm algorithm, Node.Rounds.Payload payload) => algorithm == Algorithm.DiLoCo ? "pseudo-gradient to every peer" : payload switch
    {
        Node.Rounds.Payload.FastWeights => "fast weights",
        Node.Rounds.Payload.DeltaAndSlow => "delta + bf16 slow weights",
        _ => "fast weights minus anchor",
    };

    /// <summary>Trained ÷ represented parameters: the factor the swarm's link capacities were scaled by.</summary>
    private static double Scale(SwarmSimulationOptions o, long parameters) => o.RepresentedParameters > 0 ? (double)parameters / o.RepresentedParameters : 1.0;

    private static void Progress(ScenarioContext ctx, SwarmSimulationOptions o, SwarmLossPoint p) => ctx.Log.WriteLine(FormattableString.Invariant(
        $"  {o.Algorithm.Name(),-7} {o.Codec,-14} step {p.Step,5}  t={p.SimSeconds,9:0.0}s  val {p.ValidationLoss:0.0000}"));

    /// <summary>
    /// DDP has no outer round: the numerics are <c>train --algorithm ddp</c>'s (gradients averaged every step), and each
    /// step takes the slowest peer's compute time plus one ring all-reduce of the fp32 gradient, timed message by message
    /// on the scaled links (a fresh world per all-reduce is exact here: DDP's all-reduces never overlap).
    /// </summary>
    private static TrainingRunResult Ddp(ScenarioContext ctx, SwarmSimulationOptions o)
    {
        if (torch.get_num_threads() > 1) torch.set_num_threads(1);
        var comparison = TrainingRuns.Comparison(o, Algorithm.Ddp) with { EvalEvery = o.InnerStepsPerRound };
        var validation = ctx.Data.Validation(o.Inner.MicroBatchSize, o.Inner.SequenceLength, o.EvalBatches);
        using var run = new LocalComparison(comparison,
            i => ctx.Data.ForReplica(o.Seed, i, o.Peers, o.Inner.MicroBatchSize, o.Inner.SequenceLength), validation, "fp32", CPU);
        double initial = run.Replicas[0].Trainer.Evaluate(validation);
        long parameters = run.Replicas[0].Trainer.Flat.Count;
        var network = o.Network with { UplinkBitsPerSecond = o.Network.UplinkBitsPerSecond * Scale(o, parameters), DownlinkBitsPerSecond = o.Network.DownlinkBitsPerSecond * Scale(o, parameters) };
        var (ring, ringBytes, _) = SyncScalingScenario.TimeOne(SyncPattern.RingAllReduce, o.Peers, WireOverhead.Bytes(parameters * sizeof(float)), network, o.Seed);
        var random = new DeterministicRandom(o.Seed);
        var compute = Enumerable.Range(0, o.Peers).Select(i => new ComputeModel(o.Compute, random.Fork($"compute{i}"))).ToArray();
        long steps = comparison.StepsPerReplica;
        var at = new double[steps + 1];
        var computeSeconds = new double[o.Peers];
        var idle = new double[o.Peers];
        for (long s = 0; s < steps; s++)
        {
            var t = compute.Select(c => c.NextStepTime().TotalSeconds).ToArray();
            for (int i = 0; i < t.Length; i++) { computeSeconds[i] += t[i]; idle[i] += t.Max() - t[i] + ring; }
            at[s + 1] = at[s] + t.Max() + ring;
        }
        run.OnEvaluation = p => Progress(ctx, o, new SwarmLossPoint(p.Step, p.Tokens, at[p.Step], p.ValidationLoss, p.TrainLoss));
        var result = run.Run();
        var curve = result.Curve.Select(p => new SwarmLossPoint(p.Step, p.Tokens, at[p.Step], p.ValidationLoss, p.TrainLoss)).ToArray();
        long bytes = ringBytes * steps;
        var peers = Enumerable.Range(0, o.Peers).Select(i => new PeerReport(i, compute[i].Gpu.Name, computeSeconds[i], idle[i], bytes, 0)).ToArray();
        return new TrainingRunResult("ddp", "fp32", "gradients (ring all-reduce)", o.Peers, parameters, result.Tokens, initial, result.ValLoss, at[steps],
            bytes, bytes / Scale(o, parameters), peers.Average(p => p.IdleSeconds / (p.IdleSeconds + p.ComputeSeconds)), result.ReplicaSpread, curve, peers, []);
    }

    /// <summary>Mean relative L2 distance of each vector from the vectors' mean.</summary>
    internal static double Spread(IReadOnlyList<float[]> weights)
    {
        if (weights.Count < 2) return 0;
        int n = weights[0].Length;
        var mean = new double[n];
        foreach (var w in weights) for (int i = 0; i < n; i++) mean[i] += w[i];
        double norm = 0;
        for (int i = 0; i < n; i++) { mean[i] /= weights.Count; norm += mean[i] * mean[i]; }
        norm = Math.Sqrt(norm);
        double total = 0;
        foreach (var w in weights)
        {
            double d = 0;
            for (int i = 0; i < n; i++) { double x = w[i] - mean[i]; d += x * x; }
            total += Math.Sqrt(d) / Math.Max(norm, 1e-30);
        }
        return total / weights.Count;
    }
}
