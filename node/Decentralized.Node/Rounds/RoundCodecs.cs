namespace Decentralized.Node.Rounds;

/// <summary>
/// The chains one member's updates go through: <paramref name="Update"/> for Δ, pseudo-gradients and plain θ;
/// <paramref name="Slow"/> for φ_j in NoLoCo's delta form (bf16); <paramref name="Weights"/> for anchored θ.
/// Each member owns its codecs (their error-feedback residuals are its own).
/// </summary>
public sealed record RoundCodecs(IUpdateCodec Update, IUpdateCodec Slow, IUpdateCodec Weights);
