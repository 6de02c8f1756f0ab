using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Outer;

/// <summary>
/// DiLoCo's outer optimiser (Douillard et al., 2023, algorithm 1) over one flat parameter vector:
/// Δ = mean_i(φ − θ_i), then SGD with momentum on φ. Owns φ and the momentum buffer b.
/// </summary>
public sealed class DiLoCoOuterOptimizer : IDisposable
{
    private readonly DiLoCoOptions _options;

    /// <param name="initialSlow">Starting φ (copied).</param>
    public DiLoCoOuterOptimizer(Tensor initialSlow, DiLoCoOptions options)
    {
        _options = options.Validate();
        Slow = initialSlow.detach().clone().DetachFromDisposeScope();
        Momentum = zeros_like(Slow).DetachFromDisposeScope();
    }

    /// <summary>φ, the outer weights every replica restarts from.</summary>
    public Tensor Slow { get; }

    /// <summary>b, the outer momentum buffer.</summary>
    public Tensor Momentum { get; }

    /// <summary>Outer rounds applied so far.</summary>
    public long Round { get; set; }

    /// <summary>Δ_i = φ − θ_i, this replica's pseudo-gradient (a new tensor).</summary>
    public Tensor PseudoGradient(Tensor fast)
    {
        using var noGrad = no_grad();
        return Slow - fast;
    }

    /// <summary>Δ_i = reference − θ_i: the pseudo-gradient measured from another starting point (φ, or with overlap the round's start).</summary>
    public Tensor PseudoGradientFrom(Tensor reference, Tensor fast)
    {
        using var noGrad = no_grad();
        return reference - fast;
    }

    /// <summary>Applies the averaged pseudo-gradient Δ to φ in place.</summary>
    public void Step(Tensor averagedDelta)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double mu = _options.Momentum, lr = _options.LearningRate;
        Momentum.mul_(mu).add_(averagedDelta);                        // b ← μb + Δ
        if (_options.Form == OuterMomentum.Nesterov)
            Slow.add_(averagedDelta + Momentum * mu, alpha: -lr);     // φ ← φ − lr(Δ + μb)
        else
            Slow.add_(Momentum, alpha: -lr);                          // φ ← φ − lr·b
        Round++;
    }

    /// <summary>
    /// Ends a run: φ becomes the replicas' average θ̄ = φ − Δ (outer rate 1, no momentum), with no extrapolation
    /// along the momentum. The Nesterov step's look-ahead helps while training continues; on the last round it only
    /// moves the model that is handed to the user away from where the replicas actually are.
    /// </summary>
    public void Consolidate(Tensor averagedDelta)
    {
        using var noGrad = no_grad();
        Slow.sub_(averagedDelta);
        Round++;
    }

    public void Dispose()
    {
        Slow.Dispose();
        Momentum.Dispose();
    }
}
