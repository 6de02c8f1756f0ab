using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// CheckFree (Blagoev et al., 2025, section 4.2, algorithm 1 with its typo fixed) rebuilds a lost intermediate
/// stage from its two neighbours, weighted by their last gradient norms:
/// <code>
/// W_s ← (ω_{s−1}·W_{s−1} + ω_{s+1}·W_{s+1}) / (ω_{s−1} + ω_{s+1})
/// ω_j = ‖∇W_j‖₂ at stage j's last step, after clipping, + 1e-4 (as in the reference code)
/// </code>
/// The less converged neighbour (larger gradient norm) weighs more.
/// </summary>
public static class CheckFreeRecovery
{
    /// <summary>Added to every gradient norm, as in the reference code (no zero weights).</summary>
    public const double NormEpsilon = 1e-4;

    /// <summary>ω_j from the clipped gradient norm of a stage's last step.</summary>
    public static double Weight(double clippedGradNorm) =>
        (double.IsFinite(clippedGradNorm) && clippedGradNorm > 0 ? clippedGradNorm : 0) + NormEpsilon;

    /// <summary>The weighted average of the neighbours' block weights (a new tensor).</summary>
    public static Tensor Rebuild(Tensor previous, double previousWeight, Tensor next, double nextWeight)
    {
        if (previous.numel() != next.numel()) throw new ArgumentException("neighbouring stages must have the same block shapes");
        if (!(previousWeight > 0) || !(nextWeight > 0)) throw new ArgumentException("CheckFree weights must be positive");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double total = previousWeight + nextWeight;
        return (previous * (previousWeight / total) + next * (nextWeight / total)).MoveToOuterDisposeScope();
    }

    /// <summary>The same average on plain arrays (what arrives from the wire).</summary>
    public static float[] Rebuild(ReadOnlySpan<float> previous, double previousWeight, ReadOnlySpan<float> next, double nextWeight)
    {
        if (previous.Length != next.Length) throw new ArgumentException("neighbouring stages must have the same block shapes");
        if (!(previousWeight > 0) || !(nextWeight > 0)) throw new ArgumentException("CheckFree weights must be positive");
        double total = previousWeight + nextWeight, a = previousWeight / total, b = nextWeight / total;
        var result = new float[previous.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)(a * previous[i] + b * next[i]);
        return result;
    }
}
