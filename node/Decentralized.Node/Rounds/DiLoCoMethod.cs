using Decentralized.Node.Outer;
using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>DiLoCo in the round engine: an all-gather of Δ_i = φ − θ_i among every live member, then the outer Nesterov step.</summary>
public sealed class DiLoCoMethod(Tensor initialSlow, DiLoCoOptions options) : IOuterMethod
{
    private readonly DiLoCoOuterOptimizer _outer = new(initialSlow, options);

    /// <summary>The optimiser itself, for callers not yet on the round engine (the simulator).</summary>
    public DiLoCoOuterOptimizer Optimizer => _outer;

    public Tensor Slow => _outer.Slow;
    public Tensor Momentum => _outer.Momentum;
    public long Round { get => _outer.Round; set => _outer.Round = value; }
    public bool OwnAsDecoded => true;
    public double OuterLearningRate => options.LearningRate;

    public int[] Group(int self, int memberCount, long seed, long round) => Enumerable.Range(0, memberCount).ToArray();

    public Payload ChoosePayload(Payload? asked, bool losslessChain) =>
        asked is null or Payload.PseudoGradient ? Payload.PseudoGradient
        : throw new ArgumentException($"DiLoCo sends pseudo-gradients, not {asked}");

    public (float[] Primary, float[]? Slow) Update(Tensor fast, Tensor reference, Payload payload)
    {
        using var delta = _outer.PseudoGradientFrom(reference, fast);   // Δ = φ − θ
        return (RoundEngine.Cpu(delta), null);
    }

    /// <summary>Δ = mean of whoever answered (DiLoCo tolerates drop-outs), summed in member order.</summary>
    public void Step(Payload payload, IReadOnlyList<Contribution> group, bool consolidate)
    {
        using var scope = NewDisposeScope();
        var mean = group[0].Primary.clone();
        for (int i = 1; i < group.Count; i++) mean.add_(group[i].Primary);
        mean.div_(group.Count);
        if (consolidate) _outer.Consolidate(mean);
        else _outer.Step(mean);
    }

    public void Dispose() => _outer.Dispose();
}
