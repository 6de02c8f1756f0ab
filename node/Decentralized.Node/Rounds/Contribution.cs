using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>
/// One group member's part of an outer step, as this member uses it: <paramref name="Primary"/> is θ_j (weight
/// payloads), Δ_j (NoLoCo's delta form) or the pseudo-gradient (DiLoCo); <paramref name="Slow"/> is φ_j for
/// <see cref="Payload.DeltaAndSlow"/>, else null. Tensors belong to the caller's dispose scope.
/// </summary>
public sealed record Contribution(Tensor Primary, Tensor? Slow);
