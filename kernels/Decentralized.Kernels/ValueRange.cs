namespace Decentralized.Kernels;

/// <summary>The magnitudes the codecs accept and produce. Pseudo-gradients are many orders of
/// magnitude inside these bounds; the bounds exist so that every scale and every decoded value is
/// provably finite (127 · scale can never overflow) and so that tiny blocks cannot produce an
/// infinite reciprocal.</summary>
public static class ValueRange
{
    /// <summary>Inputs must satisfy |x| &lt; 2^100 (about 1.27e30); larger values, NaN and
    /// infinities are refused with <see cref="CodecErrorCode.NonFiniteInput"/>.</summary>
    public const float MaxMagnitude = 1.2676506e30f; // 2^100

    /// <summary>A quantization block whose largest magnitude is below 2^-100 is sent as a zero block:
    /// its reciprocal scale would overflow, and such values are far below any useful precision
    /// (error feedback, when on, keeps them for the next round).</summary>
    public const float MinBlockMagnitude = 7.888609e-31f; // 2^-100

    /// <summary>The bit pattern of <see cref="MaxMagnitude"/>: |x| is accepted when its absolute
    /// bits compare below this (NaN and infinities compare above, so one unsigned compare suffices).</summary>
    internal const uint MaxMagnitudeBits = (127u + 100u) << 23;
}
