using Decentralized.Kernels;

namespace Decentralized.Node.Outer;

/// <summary>
/// SparseLoCo's outer step (ALGORITHMS.md, "SparseLoCo"; defaults of Templar's production code, one-covenant/templar
/// <c>hparams.json</c>): β 0.95, k 64 per 64 × 64 tile, α 1.0, mean per coordinate over the peers that sent it,
/// received updates clipped to the median norm. Production runs H = 30 inner steps per round (the reference 15);
/// H stays the run's own option (<c>--inner-steps</c>).
/// </summary>
/// <param name="K">Entries kept per tile (clamped to [2, tile] and even). Raise it (128 is the reference's sweep) when a
/// run trains worse than dense DiLoCo; every doubling doubles the bytes.</param>
/// <param name="Beta">Decay of the error-feedback accumulator e ← β·e + Δ; it replaces the outer momentum.</param>
/// <param name="LearningRate">α of the plain SGD step φ ← φ − α·Δ̄ (production lowered it to 0.4 late in a long run).</param>
/// <param name="Positions">How in-tile positions travel: Rice-coded gaps (about 7.6 bits) or Templar's 12 bits. Same
/// information, so the same training; 12-bit only to compare.</param>
/// <param name="Mean">Average each coordinate over its senders (the reference code) or over all group members (1/R, the paper's text).</param>
/// <param name="ClipToMedian">Scale each received update by min(1, median norm / its norm) before the mean (production).</param>
/// <param name="GroupSize">0: all-to-all, every live member each round (SparseLoCo). 2 or more: NoLoCo's random groups of
/// this size exchange the same sparse payload (the gossip variant, fewer bytes per member as the swarm grows).</param>
public sealed record SparseLoCoOptions(int K = 64, double Beta = 0.95, double LearningRate = 1.0,
    SparseIndexCoding Positions = SparseIndexCoding.Rice, SparseMean Mean = SparseMean.Senders, bool ClipToMedian = true, int GroupSize = 0)
{
    public SparseLoCoOptions Validate()
    {
        if (K is < 1 or > TileLayout.TileSizeMax) throw new ArgumentException($"sparse k must be in [1, {TileLayout.TileSizeMax}]");
        if (Beta is < 0 or > 1 || double.IsNaN(Beta)) throw new ArgumentException("sparse beta must be in [0, 1]");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException("sparse outer learning rate must be positive");
        if (GroupSize is 1 or < 0) throw new ArgumentException("sparse group size must be 0 (all-to-all) or at least 2");
        return this;
    }
}
