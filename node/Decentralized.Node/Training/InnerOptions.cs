namespace Decentralized.Node.Training;

/// <summary>
/// The inner (local) optimiser: AdamW, or Muon on the blocks' matrices with AdamW on the rest, with linear warm-up and
/// cosine decay (ALGORITHMS.md, "Inner optimizer" and "Muon as the inner optimizer").
/// </summary>
/// <param name="LearningRate">Peak AdamW rate. Lower it if the loss spikes; raise it for small models.</param>
/// <param name="WarmupSteps">Linear warm-up length in inner steps.</param>
/// <param name="TotalSteps">Inner steps of the whole run; the cosine reaches its floor here.</param>
/// <param name="MinLearningRateRatio">Floor of the cosine as a fraction of the peak (0.1 as in NoLoCo).</param>
/// <param name="WeightDecay">Decoupled weight decay.</param>
/// <param name="Beta1">Adam first-moment decay.</param>
/// <param name="Beta2">Adam second-moment decay.</param>
/// <param name="GradientClipNorm">Global L2 clip; 0 disables.</param>
/// <param name="MicroBatchSize">Sequences per forward pass (memory bound).</param>
/// <param name="SequenceLength">Tokens per sequence (at most the model's context).</param>
/// <param name="BatchTokens">Tokens per optimiser step; micro-batches are accumulated to reach it (0: one micro-batch).</param>
/// <param name="Optimizer">AdamW everywhere, or a Muon variant on the hidden matrices (compare methods under the same one).</param>
/// <param name="MuonLearningRate">Peak Muon rate, on the same schedule as <paramref name="LearningRate"/>; 0 takes the variant's default.</param>
/// <param name="MuonMomentum">Muon's momentum β (μ); 0.95 in both references.</param>
/// <param name="MuonWeightDecay">Muon's decoupled weight decay λ (W ← (1 − lr·λ)·W); 0.01 in both references.</param>
public sealed record InnerOptions(
    double LearningRate = 1.5e-3,
    int WarmupSteps = 100,
    int TotalSteps = 2000,
    double MinLearningRateRatio = 0.1,
    double WeightDecay = 0.1,
    double Beta1 = 0.9,
    double Beta2 = 0.95,
    double GradientClipNorm = 1.0,
    int MicroBatchSize = 16,
    int SequenceLength = 128,
    int BatchTokens = 0,
    InnerOptimizer Optimizer = InnerOptimizer.AdamW,
    double MuonLearningRate = 0,
    double MuonMomentum = 0.95,
    double MuonWeightDecay = 0.01)
{
    /// <summary>The Muon rate in use: <see cref="MuonLearningRate"/>, or the variant's default when it is 0 (0 for AdamW).</summary>
    public double EffectiveMuonLearningRate => MuonLearningRate > 0 ? MuonLearningRate : Optimizer.Variant()?.DefaultLearningRate ?? 0;

    /// <summary>Micro-batches accumulated per step.</summary>
    public int AccumulationSteps => BatchTokens <= 0 ? 1 : Math.Max(1, BatchTokens / (MicroBatchSize * SequenceLength));

    public InnerOptions Validate()
    {
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning rate must be positive");
        Require(WarmupSteps >= 0, "warm-up steps must be 0 or more");
        Require(TotalSteps >= 1, "total steps must be at least 1");
        Require(MinLearningRateRatio is >= 0 and <= 1, "min learning-rate ratio must be in [0, 1]");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight decay must be 0 or more");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, "Adam betas must be in [0, 1)");
        Require(GradientClipNorm >= 0 && double.IsFinite(GradientClipNorm), "gradient clip must be 0 (off) or positive");
        Require(MicroBatchSize is >= 1 and <= 65536, "micro-batch size must be between 1 and 65536");
        Require(SequenceLength >= 2, "sequence length must be at least 2");
        Require(BatchTokens >= 0, "batch tokens must be 0 or more");
        Require(Enum.IsDefined(Optimizer), "unknown inner optimizer");
        Require(MuonLearningRate >= 0 && double.IsFinite(MuonLearningRate), "Muon learning rate must be 0 (the variant's default) or positive");
        Require(MuonMomentum is >= 0 and < 1, "Muon momentum must be in [0, 1)");
        Require(MuonWeightDecay >= 0 && double.IsFinite(MuonWeightDecay), "Muon weight decay must be 0 or more");
        return this;
    }

    /// <summary>Warm-up then cosine decay to <see cref="MinLearningRateRatio"/> of the peak.</summary>
    public double LearningRateAt(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        double span = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((step - WarmupSteps) / span, 0, 1);
        double floor = LearningRate * MinLearningRateRatio;
        return floor + 0.5 * (LearningRate - floor) * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>The Muon rate at <paramref name="step"/>: the same warm-up and cosine, scaled to <see cref="EffectiveMuonLearningRate"/>.</summary>
    public double MuonLearningRateAt(long step) => LearningRateAt(step) * (EffectiveMuonLearningRate / LearningRate);

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
