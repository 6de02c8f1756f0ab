using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>
/// An outer method (DiLoCo, NoLoCo, SparseLoCo) as the round engine drives it: who it exchanges with, what it sends and the
/// step it takes on what came back. Owns φ and the outer momentum (SparseLoCo: its error-feedback accumulator). No I/O, no clock.
/// </summary>
public interface IOuterMethod : IDisposable
{
    /// <summary>φ, the outer (slow) weights.</summary>
    Tensor Slow { get; }

    /// <summary>The outer momentum buffer.</summary>
    Tensor Momentum { get; }

    /// <summary>Outer rounds applied so far.</summary>
    long Round { get; set; }

    /// <summary>
    /// This round's group as indices into the sorted members (<paramref name="self"/> included), in the order every
    /// member sums the contributions, so a group's members compute the same sums bit for bit.
    /// </summary>
    int[] Group(int self, int memberCount, long seed, long round);

    /// <summary>
    /// True when this member's own part enters the step as its partners decode it (DiLoCo's all-reduce: every member
    /// averages the same vectors and all stay identical); false when it enters exactly (NoLoCo).
    /// </summary>
    bool OwnAsDecoded { get; }

    /// <summary>
    /// The wire form of this method's updates when it has its own (SparseLoCo: the tile top-k of its accumulator, whose
    /// unsent rest the codec leaves in the method), else null: they go through the round's update chain.
    /// </summary>
    IUpdateCodec? OwnCodec => null;

    /// <summary>The outer learning rate a partner's Δ is applied at (DiLoCo's lr, NoLoCo's β): verification scores a step of a fraction of it.</summary>
    double OuterLearningRate => 1.0;

    /// <summary>The payload of a run: <paramref name="asked"/> where the method allows it, else its default for the chain.</summary>
    Payload ChoosePayload(Payload? asked, bool losslessChain);

    /// <summary>
    /// This member's update (CPU floats): progress is measured from <paramref name="reference"/>, which is φ without
    /// overlap and the weights this round's local steps started from with it.
    /// </summary>
    (float[] Primary, float[]? Slow) Update(Tensor fast, Tensor reference, Payload payload);

    /// <summary>
    /// The outer step on the group's contributions (own included, in <see cref="Group"/> order). With
    /// <paramref name="consolidate"/> (a run's last round) φ becomes the members' average, with no momentum.
    /// </summary>
    void Step(Payload payload, IReadOnlyList<Contribution> group, bool consolidate);
}
