using System.Globalization;
using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Training;

/// <summary>
/// One simulated training run: K replicas of a small real model trained with TorchSharp, while virtual time comes
/// from the compute model (per-peer step times) and the network model (exchanges).
/// </summary>
public sealed record SimTrainingOptions
{
    /// <summary>DDP, DiLoCo or NoLoCo.</summary>
    public Algorithm Algorithm { get; init; } = Algorithm.NoLoCo;

    /// <summary>K, the number of replicas (peers).</summary>
    public int Replicas { get; init; } = 4;

    /// <summary>H, inner steps per outer round.</summary>
    public int InnerStepsPerRound { get; init; } = 25;

    /// <summary>Inner steps each replica takes in the whole run.</summary>
    public int StepsPerReplica { get; init; } = 300;

    /// <summary>The trained model: tiny by default (about 0.1M parameters) so a run takes minutes on a CPU.</summary>
    public ModelConfig Model { get; init; } = new(VocabSize: 256, Dim: 48, Layers: 2, Heads: 4, ContextLength: 64);

    /// <summary>Inner AdamW settings; <see cref="InnerOptions.TotalSteps"/> is set to the run length.</summary>
    public InnerOptions Inner { get; init; } = new(LearningRate: 3e-3, WarmupSteps: 20, MicroBatchSize: 8, SequenceLength: 64);

    /// <summary>DiLoCo's outer optimiser.</summary>
    public DiLoCoOptions DiLoCo { get; init; } = new();

    /// <summary>NoLoCo's outer optimiser.</summary>
    public NoLoCoOptions NoLoCo { get; init; } = new();

    /// <summary>Codec chain of the outer exchange (DDP gradients always travel as fp32).</summary>
    public string Codec { get; init; } = "fp32";

    /// <summary>
    /// The model size the network should be timed for. Link capacities are scaled by (trained parameters ÷ this), so
    /// the real bytes of the tiny model take as long as the represented model's would. 0: no scaling.
    /// </summary>
    public long RepresentedParameters { get; init; } = 125_000_000;

    /// <summary>Overlap the outer exchange with the next round's inner steps (one-step-delayed outer update).</summary>
    public bool OneStepDelay { get; init; }

    /// <summary>Longest wait for a partner's update before a NoLoCo round proceeds with whoever arrived.</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Validation of replica 0 every this many inner steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 25;

    /// <summary>Fixed validation micro-batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;

    /// <summary>
    /// Peers leaving, crashing and joining (NoLoCo only). Joiners fetch φ, momentum and position from a live peer over
    /// the network; leavers say goodbye; crashed peers are noticed by connection resets or the round timeout.
    /// </summary>
    public Compute.ChurnSchedule? Churn { get; init; }

    /// <summary>How long after a crash the membership stops pairing the dead peer (a heartbeat timeout).</summary>
    public TimeSpan FailureDetection { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Evaluate every this much virtual time (the lowest-numbered live peer) instead of every <see cref="EvalEvery"/> steps.</summary>
    public TimeSpan? EvalInterval { get; init; }

    /// <summary>The network model.</summary>
    public NetworkOptions Network { get; init; } = new();

    /// <summary>The compute model.</summary>
    public ComputeOptions Compute { get; init; } = new();

    /// <summary>Seed of everything: weights, data order, pairing, network jitter, step times.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public SimTrainingOptions Validate()
    {
        if (Replicas is < 1 or > 256) throw new ArgumentException("replicas must be between 1 and 256");
        if (InnerStepsPerRound < 1) throw new ArgumentException("inner steps per round (H) must be at least 1");
        if (StepsPerReplica < 1) throw new ArgumentException("steps must be at least 1");
        if (RepresentedParameters < 0) throw new ArgumentException("represented parameters must be 0 or more");
        if (RoundTimeout <= TimeSpan.Zero) throw new ArgumentException("round timeout must be positive");
        if (EvalEvery < 0 || EvalBatches < 1) throw new ArgumentException("eval interval must be 0 or more and eval batches at least 1");
        Model.Validate();
        Inner.Validate();
        DiLoCo.Validate();
        NoLoCo.Validate();
        Network.Validate();
        Compute.Validate();
        _ = Kernels.CodecChain.Parse(Codec);
        if (Churn is { Events.Count: > 0 } && Algorithm != Algorithm.NoLoCo) throw new ArgumentException("churn is simulated for noloco only (DiLoCo's all-reduce needs a fixed membership here)");
        if (Churn is { Events.Count: > 0 } && OneStepDelay) throw new ArgumentException("churn with the one-step delay is not simulated");
        if (EvalInterval is { } e && e <= TimeSpan.Zero) throw new ArgumentException("eval interval must be positive");
        return this;
    }

    /// <summary>The options the node's replica classes take.</summary>
    internal ComparisonOptions ToComparison() => new()
    {
        Replicas = Replicas,
        Algorithm = Algorithm,
        InnerStepsPerRound = InnerStepsPerRound,
        StepsPerReplica = StepsPerReplica,
        Model = Model,
        Inner = Inner with { TotalSteps = StepsPerReplica },
        DiLoCo = DiLoCo,
        NoLoCo = NoLoCo,
        EvalBatches = EvalBatches,
        Seed = Seed,
    };

    /// <summary>The knobs as name/value pairs, for the run header.</summary>
    public IEnumerable<(string Name, string Value)> Describe()
    {
        var c = CultureInfo.InvariantCulture;
        yield return ("algorithm", Algorithm.Name());
        yield return ("replicas", Replicas.ToString(c));
        yield return ("inner_steps_per_round", InnerStepsPerRound.ToString(c));
        yield return ("steps_per_replica", StepsPerReplica.ToString(c));
        yield return ("model", FormattableString.Invariant($"vocab {Model.VocabSize}, dim {Model.Dim}, layers {Model.Layers}, heads {Model.Heads}, context {Model.ContextLength}"));
        yield return ("inner", FormattableString.Invariant($"lr {Inner.LearningRate}, warmup {Inner.WarmupSteps}, batch {Inner.MicroBatchSize}x{Inner.SequenceLength}"));
        yield return ("diloco", FormattableString.Invariant($"lr {DiLoCo.LearningRate}, momentum {DiLoCo.Momentum}, {DiLoCo.Form}"));
        yield return ("noloco", FormattableString.Invariant($"alpha {NoLoCo.Alpha}, beta {NoLoCo.Beta}, gamma {NoLoCo.EffectiveGamma}, group {NoLoCo.GroupSize}"));
        yield return ("codec", Codec);
        yield return ("represented_parameters", RepresentedParameters.ToString(c));
        yield return ("one_step_delay", OneStepDelay ? "true" : "false");
        yield return ("round_timeout_s", RoundTimeout.TotalSeconds.ToString("0.###", c));
        yield return ("eval_every", EvalEvery.ToString(c));
        if (EvalInterval is { } interval) yield return ("eval_interval_s", interval.TotalSeconds.ToString("0.###", c));
        if (Churn is not null) yield return ("churn_events", Churn.Events.Count.ToString(c));
        if (Churn is not null) yield return ("failure_detection_s", FailureDetection.TotalSeconds.ToString("0.###", c));
        foreach (var kv in Network.Describe()) yield return kv;
        foreach (var kv in Compute.Describe()) yield return kv;
    }
}
