namespace Decentralized.Node.Training;

/// <summary>One validation measurement during a run.</summary>
public sealed record LossPoint(long Step, long Tokens, double ValidationLoss, double TrainLoss, double WallSeconds);

/// <summary>The outcome of an in-process comparison (printed as JSON by <c>decentralized train --json</c>).</summary>
public sealed record ComparisonResult(
    string Algorithm,
    int Replicas,
    int InnerSteps,
    string Compression,
    long Parameters,
    long Tokens,
    double ValLoss,
    double TrainLoss,
    long BytesSentPerReplica,
    double WallSeconds,
    double TokensPerSecond,
    double ReplicaSpread,
    // The final validation loss of the replicas' averaged weights: equal to ValLoss where they agree, NaN before the end.
    double ValLossAveragedWeights,
    // What crossed the wire each round: "gradients" (DDP), "pseudo-gradients" (DiLoCo), or NoLoCo's payload with its chain.
    string Exchange,
    int SyncWarmupSteps,
    // Tokens each evaluation predicts (--eval-batches x batch x sequence, at most the validation split): a few thousand
    // move a 2,000-step run's loss by a point or more, so a comparison worth quoting evaluates the whole split.
    long ValidationTokens,
    IReadOnlyList<LossPoint> Curve)
{
    /// <summary>How the starting weights were drawn: gpt2, torch or scale=X.</summary>
    public string? Init { get; init; }

    /// <summary>What validation held out: "document" or "chunk" (set by the caller that opened the data).</summary>
    public string? SplitUnit { get; init; }

    /// <summary>Share of the validation text's line bytes that also occur in training, before any were dropped.</summary>
    public double? ValidationSeenFraction { get; init; }

    /// <summary>adamw, muon or muloco: compare methods only under the same one.</summary>
    public string InnerOptimizer { get; init; } = "adamw";

    /// <summary>Peak Muon rate of the hidden matrices (0 under AdamW).</summary>
    public double MuonLearningRate { get; init; }
}
