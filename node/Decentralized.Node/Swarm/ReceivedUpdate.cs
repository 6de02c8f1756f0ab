using Decentralized.Protocol.Identity;

namespace Decentralized.Node.Swarm;

/// <summary>A decoded, shape- and finiteness-checked update from one peer for one round.</summary>
/// <param name="Primary">θ_j, Δ_j (NoLoCo) or the DiLoCo pseudo-gradient.</param>
/// <param name="Slow">φ_j for <see cref="UpdateKind.DeltaAndSlow"/>, else null.</param>
public sealed record ReceivedUpdate(PeerId From, long Round, UpdateKind Kind, float[] Primary, float[]? Slow, long Bytes);
