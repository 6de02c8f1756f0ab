using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>
/// A synchronous step (DDP, and the synchronous warm-up before the first outer round) as a round of the engine: every
/// live member's gradient is all-gathered through the update chain and each member takes the mean of the decoded
/// gradients, its own included as its partners decode it, so all take the same AdamW step. The "round" is the inner
/// step; <see cref="Slow"/> holds the last mean gradient, which <see cref="RoundEngine.Apply"/> hands back. No momentum.
/// </summary>
public sealed class SynchronousMethod(long values, Device device) : IOuterMethod
{
    private readonly Tensor _mean = zeros(values, device: device).DetachFromDisposeScope();
    private readonly Tensor _none = zeros(0, device: device).DetachFromDisposeScope();

    /// <summary>The mean gradient of the last step.</summary>
    public Tensor Slow => _mean;

    /// <summary>Empty: a synchronous step keeps no outer momentum.</summary>
    public Tensor Momentum => _none;

    public long Round { get; set; }

    public bool OwnAsDecoded => true;

    public int[] Group(int self, int memberCount, long seed, long round) => Enumerable.Range(0, memberCount).ToArray();

    public Payload ChoosePayload(Payload? asked, bool losslessChain) =>
        asked is null or Payload.Gradient ? Payload.Gradient : throw new ArgumentException($"a synchronous step sends gradients, not {asked}");

    /// <summary><paramref name="fast"/> is this member's gradient (the engine's vector of the step); there is no reference.</summary>
    public (float[] Primary, float[]? Slow) Update(Tensor fast, Tensor reference, Payload payload) => (RoundEngine.Cpu(fast), null);

    /// <summary>The mean of whoever answered, summed in member order (every member gets the same bits).</summary>
    public void Step(Payload payload, IReadOnlyList<Contribution> group, bool consolidate)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _mean.copy_(group[0].Primary);
        for (int i = 1; i < group.Count; i++) _mean.add_(group[i].Primary);
        _mean.div_(group.Count);
    }

    public void Dispose()
    {
        _mean.Dispose();
        _none.Dispose();
    }
}
