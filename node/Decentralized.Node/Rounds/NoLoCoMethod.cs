using Decentralized.Node.Outer;
using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>NoLoCo in the round engine: random groups from (seed, round), each member steps on its group's weights.</summary>
public sealed class NoLoCoMethod(Tensor initialSlow, NoLoCoOptions options) : IOuterMethod
{
    private readonly NoLoCoOuterOptimizer _outer = new(initialSlow, options);

    /// <summary>The optimiser itself, for callers not yet on the round engine (the simulator).</summary>
    public NoLoCoOuterOptimizer Optimizer => _outer;

    public Tensor Slow => _outer.Slow;
    public Tensor Momentum => _outer.Momentum;
    public long Round { get => _outer.Round; set => _outer.Round = value; }
    public bool OwnAsDecoded => false;
    public double OuterLearningRate => options.Beta;

    public int[] Group(int self, int memberCount, long seed, long round) =>
        NoLoCoPairing.GroupOf(self, memberCount, seed, round, options.GroupSize);

    /// <summary>γ ≠ β needs Δ and φ; otherwise as asked, else θ for lossless chains and anchored θ for lossy ones.</summary>
    public Payload ChoosePayload(Payload? asked, bool losslessChain)
    {
        if (asked == Payload.PseudoGradient) throw new ArgumentException("NoLoCo does not send DiLoCo's pseudo-gradients");
        if (options.EffectiveGamma != options.Beta) return Payload.DeltaAndSlow;
        return asked ?? (losslessChain ? Payload.FastWeights : Payload.AnchoredFast);
    }

    public (float[] Primary, float[]? Slow) Update(Tensor fast, Tensor reference, Payload payload)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool fromSlow = ReferenceEquals(reference, Slow);
        if (payload == Payload.DeltaAndSlow) return (RoundEngine.Cpu(fast - reference), RoundEngine.Cpu(Slow));   // Δ_j, φ_j
        // θ itself without overlap; with it φ plus this round's own progress, whose γ = β step equals the Δ-and-φ one.
        return (fromSlow ? RoundEngine.Cpu(fast) : RoundEngine.Cpu(Slow + (fast - reference)), null);
    }

    public void Step(Payload payload, IReadOnlyList<Contribution> group, bool consolidate)
    {
        using var scope = NewDisposeScope();
        bool weights = payload.CarriesWeights();
        if (consolidate) _outer.Consolidate(group.Select(m => weights ? m.Primary : m.Primary + m.Slow!).ToArray());   // θ_j = Δ_j + φ_j
        else if (weights) _outer.StepFromFast(group.Select(m => m.Primary).ToArray());                                  // NoLoCo eq. 2, γ = β
        else _outer.Step(group.Select(m => m.Primary).ToArray(), group.Select(m => m.Slow!).ToArray());                // NoLoCo eqs. 1-3
    }

    public void Dispose() => _outer.Dispose();
}
