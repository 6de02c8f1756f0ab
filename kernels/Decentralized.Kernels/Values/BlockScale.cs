using System.Runtime.CompilerServices;

namespace Decentralized.Kernels;

/// <summary>The per-block rule shared by the quantizers and their references (ALGORITHMS.md,
/// "blockwise absmax quantization"): s = max|x| / q_max stored as fp32, and the codes are
/// round(x · (q_max / max|x|)) clamped to [−q_max, q_max]. Multiplying by the reciprocal rather than
/// dividing by s differs from x / s by at most one ulp, which can only move an exact .5 tie.</summary>
public static class BlockScale
{
    /// <summary>Largest scale a decoder accepts; any code times it stays finite.</summary>
    public const float MaxScale = ValueRange.MaxMagnitude;

    /// <summary>Scale and reciprocal for a block whose largest magnitude is <paramref name="absMax"/>.
    /// A block below <see cref="ValueRange.MinBlockMagnitude"/> (zeros included) gets scale 0 and
    /// reciprocal 0, so it encodes to zero codes and decodes to zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Compute(float absMax, float qMax, out float scale, out float inverse)
    {
        if (absMax < ValueRange.MinBlockMagnitude)
        {
            scale = 0f;
            inverse = 0f;
            return;
        }

        scale = absMax / qMax;
        inverse = qMax / absMax;
    }

    /// <summary>Round-to-nearest-even code of one value (the deterministic rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RoundNearest(float x, float inverse, float qMax) =>
        (int)Math.Clamp(MathF.Round(x * inverse, MidpointRounding.ToEven), -qMax, qMax);

    /// <summary>Stochastic code: floor(x·inv + u), u uniform in [0, 1), so E[code] = x·inv.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RoundStochastic(float x, float inverse, float qMax, float uniform) =>
        (int)Math.Clamp(MathF.Floor(x * inverse + uniform), -qMax, qMax);

    /// <summary>True when a scale read from the wire is one an encoder can produce (finite, ≥ 0,
    /// at most <see cref="MaxScale"/>); NaN fails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValidScale(float scale) => scale >= 0f && scale <= MaxScale;

    /// <summary>Number of blocks covering <paramref name="count"/> values.</summary>
    public static int BlockCount(int count, int blockSize) => (int)(((long)count + blockSize - 1) / blockSize);
}
