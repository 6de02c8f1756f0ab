namespace Decentralized.Node.Outer;

/// <summary>Momentum form of the outer step (ALGORITHMS.md offers both).</summary>
public enum OuterMomentum
{
    /// <summary>PyTorch SGD(nesterov=True): b ← μb + Δ; φ ← φ − lr(Δ + μb). DiLoCo's default.</summary>
    Nesterov,
    /// <summary>Heavy ball: b ← μb + Δ; φ ← φ − lr·b. NoLoCo's form, and its paper's DiLoCo baseline.</summary>
    HeavyBall,
}

/// <summary>
/// DiLoCo's outer SGD. The paper's settings are lr 0.7, momentum 0.9 (Nesterov); at our short runs
/// (tens of rounds from scratch) lr 1.0 and momentum 0.5 measured better (ALGORITHMS.md, "What to expect"),
/// so those are the defaults; raise the momentum for runs of hundreds of rounds.
/// </summary>
public sealed record DiLoCoOptions(double LearningRate = 1.0, double Momentum = 0.5, OuterMomentum Form = OuterMomentum.Nesterov)
{
    public DiLoCoOptions Validate()
    {
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException("outer learning rate must be positive");
        if (Momentum is < 0 or >= 1) throw new ArgumentException("outer momentum must be in [0, 1)");
        return this;
    }
}

/// <summary>
/// NoLoCo's outer step (paper eqs. 1-3, sign as in the reference code). Defaults from the paper:
/// α 0.5, β 0.7, γ = β, groups of 2.
/// </summary>
/// <param name="Alpha">Momentum decay α.</param>
/// <param name="Beta">Weight of the group-averaged pseudo-gradient β.</param>
/// <param name="Gamma">Pull towards the group's mean slow weights γ; null means γ = β (one vector on the wire).</param>
/// <param name="GroupSize">Replicas per exchange group n.</param>
/// <param name="Form">Heavy ball as in the paper and its code; Nesterov applies the same step with DiLoCo's look-ahead.</param>
public sealed record NoLoCoOptions(double Alpha = 0.5, double Beta = 0.7, double? Gamma = null, int GroupSize = 2,
    OuterMomentum Form = OuterMomentum.HeavyBall)
{
    public double EffectiveGamma => Gamma ?? Beta;

    public NoLoCoOptions Validate()
    {
        if (Alpha is < 0 or >= 1) throw new ArgumentException("NoLoCo alpha must be in [0, 1)");
        if (!(Beta > 0) || !double.IsFinite(Beta)) throw new ArgumentException("NoLoCo beta must be positive");
        if (!(EffectiveGamma >= 0) || !double.IsFinite(EffectiveGamma)) throw new ArgumentException("NoLoCo gamma must be 0 or more");
        if (GroupSize < 2) throw new ArgumentException("NoLoCo group size must be at least 2");
        return this;
    }
}
