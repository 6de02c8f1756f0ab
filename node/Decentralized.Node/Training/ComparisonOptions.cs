using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;

namespace Decentralized.Node.Training;

/// <summary>An in-process comparison: K replicas, one algorithm, no network, exact byte accounting.</summary>
public sealed record ComparisonOptions
{
    public int Replicas { get; init; } = 4;
    public Algorithm Algorithm { get; init; } = Algorithm.NoLoCo;
    /// <summary>H, inner steps per outer round (ignored by DDP).</summary>
    public int InnerStepsPerRound { get; init; } = 50;
    /// <summary>Inner steps per replica for the whole run.</summary>
    public int StepsPerReplica { get; init; } = 2000;
    public ModelConfig Model { get; init; } = ModelConfig.Small;
    public InnerOptions Inner { get; init; } = new();
    public DiLoCoOptions DiLoCo { get; init; } = new();
    public NoLoCoOptions NoLoCo { get; init; } = new();
    public SparseLoCoOptions SparseLoCo { get; init; } = new();
    /// <summary>NoLoCo's payload (null: θ for lossless chains, anchored θ for lossy ones; γ ≠ β always sends Δ and φ).</summary>
    public Payload? NoLoCoWire { get; init; }
    /// <summary>Validation every this many inner steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 200;
    /// <summary>Fixed validation micro-batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 16;
    public long Seed { get; init; } = 1;
    /// <summary>How the replicas' shared starting weights are drawn from <see cref="Seed"/> (<c>--init</c>).</summary>
    public WeightInit Init { get; init; } = WeightInit.Gpt2;
    /// <summary>Synchronous (DDP) steps before the first round; costs bytes, helps from-scratch runs.</summary>
    public int SyncWarmupSteps { get; init; }

    public ComparisonOptions Validate()
    {
        if (Replicas is < 1 or > 256) throw new ArgumentException("replicas must be between 1 and 256");
        if (InnerStepsPerRound < 1) throw new ArgumentException("inner steps per round (H) must be at least 1");
        if (StepsPerReplica < 1) throw new ArgumentException("steps must be at least 1");
        if (EvalEvery < 0) throw new ArgumentException("eval interval must be 0 or more");
        if (EvalBatches < 1) throw new ArgumentException("eval batches must be at least 1");
        if (SyncWarmupSteps < 0) throw new ArgumentException("sync warm-up steps must be 0 or more");
        Model.Validate();
        Inner.Validate();
        DiLoCo.Validate();
        NoLoCo.Validate();
        SparseLoCo.Validate();
        return this;
    }
}
