using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Outer;

/// <summary>
/// NoLoCo's outer optimiser for one replica (Kolehmainen et al., 2025, eqs. 1-3 with the reference code's sign):
/// <code>
/// Δ_j = θ_j − φ_j
/// m_i ← α·m_i + (β/n)·Σ_{j∈G} Δ_j + γ·((1/n)·Σ_{j∈G} φ_j − φ_i)
/// φ_i ← φ_i + m_i
/// </code>
/// Heavy-ball momentum, m starts at 0. The group G includes this replica. With the Nesterov form the same
/// step g = m's increment is applied with a look-ahead, as PyTorch's SGD(nesterov) and DiLoCo: m ← α·m + g,
/// φ ← φ + g + α·m.
/// </summary>
public sealed class NoLoCoOuterOptimizer : IDisposable
{
    private readonly NoLoCoOptions _options;

    public NoLoCoOuterOptimizer(Tensor initialSlow, NoLoCoOptions options)
    {
        _options = options.Validate();
        Slow = initialSlow.detach().clone().DetachFromDisposeScope();
        Momentum = zeros_like(Slow).DetachFromDisposeScope();
    }

    /// <summary>φ_i, this replica's slow weights.</summary>
    public Tensor Slow { get; }

    /// <summary>m_i, this replica's outer momentum.</summary>
    public Tensor Momentum { get; }

    public long Round { get; set; }

    public NoLoCoOptions Options => _options;

    /// <summary>Δ_i = θ_i − φ_i (fast minus slow: where the inner steps went).</summary>
    public Tensor Delta(Tensor fast)
    {
        using var noGrad = no_grad();
        return fast - Slow;
    }

    /// <summary>The general step from the group's pseudo-gradients and slow weights (both include this replica's own).</summary>
    public void Step(IReadOnlyList<Tensor> groupDeltas, IReadOnlyList<Tensor> groupSlows)
    {
        if (groupDeltas.Count == 0 || groupDeltas.Count != groupSlows.Count)
            throw new ArgumentException("NoLoCo step needs one delta and one slow vector per group member");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int n = groupDeltas.Count;
        var deltaSum = Sum(groupDeltas);
        var slowMean = Sum(groupSlows) / n;
        Apply(deltaSum.mul_(_options.Beta / n).add_(slowMean - Slow, alpha: _options.EffectiveGamma));
    }

    /// <summary>
    /// The γ = β form: since Δ_j + φ_j = θ_j, m_i ← α·m_i + β·((1/n)·Σ θ_j − φ_i), so the partners' fast
    /// weights alone suffice (one model-sized vector per partner on the wire).
    /// </summary>
    public void StepFromFast(IReadOnlyList<Tensor> groupFast)
    {
        if (_options.EffectiveGamma != _options.Beta)
            throw new InvalidOperationException("the fast-weights form of the NoLoCo step needs gamma = beta");
        if (groupFast.Count == 0) throw new ArgumentException("NoLoCo step needs at least this replica's own weights");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var fastMean = Sum(groupFast) / groupFast.Count;
        Apply((fastMean - Slow).mul_(_options.Beta));
    }

    /// <summary>
    /// Ends a run: φ_i becomes the group's average fast weights (1/n)·Σ θ_j, without the momentum's extrapolation
    /// past it, as <see cref="DiLoCoOuterOptimizer.Consolidate"/> does for DiLoCo. Same bytes as a step.
    /// </summary>
    public void Consolidate(IReadOnlyList<Tensor> groupFast)
    {
        if (groupFast.Count == 0) throw new ArgumentException("NoLoCo consolidation needs at least this replica's own weights");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Slow.copy_(Sum(groupFast) / groupFast.Count);
        Round++;
    }

    /// <summary>m ← α·m + g, then φ ← φ + m (heavy ball) or φ ← φ + g + α·m (Nesterov).</summary>
    private void Apply(Tensor step)
    {
        Momentum.mul_(_options.Alpha).add_(step);
        if (_options.Form == OuterMomentum.Nesterov) Slow.add_(step).add_(Momentum, alpha: _options.Alpha);
        else Slow.add_(Momentum);
        Round++;
    }

    private static Tensor Sum(IReadOnlyList<Tensor> vectors)
    {
        var sum = vectors[0].clone();
        for (int i = 1; i < vectors.Count; i++) sum.add_(vectors[i]);
        return sum;
    }

    public void Dispose()
    {
        Slow.Dispose();
        Momentum.Dispose();
    }
}
