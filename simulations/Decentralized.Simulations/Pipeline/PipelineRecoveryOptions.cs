using Decentralized.Node.Pipeline;

namespace Decentralized.Simulations.Pipeline;

/// <summary>
/// One simulated pipeline run: real TorchSharp stages trained in this process, wall-clock time modelled per
/// iteration as in the CheckFree paper (91 s per iteration, 151 s with redundant computation, 30 s per recovery).
/// </summary>
public sealed record PipelineRecoveryOptions
{
    /// <summary>Model, stage count, inner AdamW and the microbatch shape (the peers' options; one replica per stage here).</summary>
    public required PipelineOptions Pipeline { get; init; }

    public RecoveryMethod Method { get; init; } = RecoveryMethod.FailureFree;

    /// <summary>Probability that a given stage fails within an hour.</summary>
    public double FailureRatePerHour { get; init; }

    /// <summary>Explicit failures instead of drawn ones (tests).</summary>
    public IReadOnlyList<StageFailure>? Failures { get; init; }

    /// <summary>Training iterations of the failure-free reference (one microbatch per iteration).</summary>
    public int Iterations { get; init; } = 1000;

    /// <summary>Simulated time the run may use, as a multiple of the failure-free run's duration.</summary>
    public double HorizonFactor { get; init; } = 2.0;

    /// <summary>Simulated time of one iteration (the paper's 500M model: about 91 s).</summary>
    public TimeSpan IterationTime { get; init; } = TimeSpan.FromSeconds(91);

    /// <summary>One iteration with redundant computation (each stage also runs its successor's forward: 151 s).</summary>
    public TimeSpan RedundantIterationTime { get; init; } = TimeSpan.FromSeconds(151);

    /// <summary>Detecting a lost stage and bringing up its replacement (the paper: about 30 s).</summary>
    public TimeSpan RecoveryTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Checkpoint period of the restart baseline (the paper: about 3 hours).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromHours(3);

    /// <summary>Writing one checkpoint of every stage (the paper measured nothing noticeable; we charge a minute).</summary>
    public TimeSpan CheckpointWriteTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Restarting every stage from the last checkpoint, on top of <see cref="RecoveryTime"/>.</summary>
    public TimeSpan RestartTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Iterations between refreshes of the embedding/head copies on the neighbouring stages (an outer round).</summary>
    public int ReplicateEvery { get; init; } = 20;

    /// <summary>Iterations between validation evaluations.</summary>
    public int EvalEvery { get; init; } = 20;

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;

    public long Seed { get; init; } = 7;

    public PipelineRecoveryOptions Validate()
    {
        Pipeline.Validate();
        if (Iterations < 1) throw new ArgumentException("iterations must be at least 1");
        if (HorizonFactor < 1) throw new ArgumentException("horizon factor must be at least 1");
        if (FailureRatePerHour is < 0 or >= 1) throw new ArgumentException("failure rate must be in [0, 1)");
        if (IterationTime <= TimeSpan.Zero || RedundantIterationTime <= TimeSpan.Zero) throw new ArgumentException("iteration times must be positive");
        if (CheckpointInterval <= TimeSpan.Zero) throw new ArgumentException("checkpoint interval must be positive");
        if (ReplicateEvery < 1 || EvalEvery < 1 || EvalBatches < 1) throw new ArgumentException("intervals and batch counts must be at least 1");
        return this;
    }

    /// <summary>Simulated hours the run may use.</summary>
    public double HorizonHours => Iterations * IterationTime.TotalHours * HorizonFactor;
}
