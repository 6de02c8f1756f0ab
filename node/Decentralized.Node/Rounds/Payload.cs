namespace Decentralized.Node.Rounds;

/// <summary>
/// What one outer round puts on the wire (ALGORITHMS.md, "What goes on the wire"). The one vocabulary for the
/// daemon, <c>train</c>, the simulator and the pipeline; the numbers are the wire values.
/// </summary>
public enum Payload
{
    /// <summary>NoLoCo with γ = β: the fast weights θ_j, one model-sized vector per partner.</summary>
    FastWeights = 0,
    /// <summary>NoLoCo's general form: Δ_j through the update chain, then φ_j in bf16 (two vectors in one blob).</summary>
    DeltaAndSlow = 1,
    /// <summary>DiLoCo: the pseudo-gradient Δ_j = φ − θ_j.</summary>
    PseudoGradient = 2,
    /// <summary>
    /// NoLoCo with γ = β over a lossy chain: θ_j minus an anchor every member holds (the weights they shared at the
    /// start or at the end of the synchronous warm-up), through the weights chain; decoded back to θ_j. Coded relative
    /// to the anchor rather than to zero, 8 bits keep it as precise as bf16 weights at about half the bytes.
    /// </summary>
    AnchoredFast = 3,
    /// <summary>A synchronous step's gradient (DDP and the synchronous warm-up), all-gathered through the update chain.</summary>
    Gradient = 4,
    /// <summary>
    /// SparseLoCo: the tile top-k of the member's error-feedback accumulator, 2-bit values and coded positions, in the
    /// method's own format (<see cref="IOuterMethod.OwnCodec"/>); decoded to a vector that is zero where nothing was sent.
    /// </summary>
    Sparse = 5,
}

public static class PayloadNames
{
    /// <summary>Parses a command-line name: <c>fast</c>, <c>delta+slow</c>, <c>anchored</c> (NoLoCo's choices).</summary>
    public static Payload? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "fast" => Payload.FastWeights,
        "delta+slow" => Payload.DeltaAndSlow,
        "anchored" => Payload.AnchoredFast,
        _ => throw new ArgumentException($"unknown payload '{text}': use fast, delta+slow or anchored"),
    };

    /// <summary>True for the payloads that carry weights θ_j (judged by their distance from our φ, shifted by overlap).</summary>
    public static bool CarriesWeights(this Payload payload) => payload is Payload.FastWeights or Payload.AnchoredFast;
}
