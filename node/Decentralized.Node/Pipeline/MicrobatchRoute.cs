namespace Decentralized.Node.Pipeline;

/// <summary>
/// The stage order of a microbatch. In order: E+S1, S2, ..., S_S+E⁻¹. CheckFree+ (paper section 4.3) runs a share
/// of microbatches with the first two and the last two stages swapped, E, S2, S1, S3, ..., S_S, S_{S−1}, E⁻¹, so that
/// S2 learns to stand in for S1 and S_{S−1} for S_S. The embedding always runs on stage 1 and the head on stage S,
/// so a swapped route visits those stages twice. With three stages the two swaps would overlap (S2 is in both
/// pairs), so a swapped microbatch there swaps either the first pair or the last pair, alternating.
/// </summary>
public static class MicrobatchRoute
{
    /// <summary>The stages' blocks in the order a microbatch runs them.</summary>
    public static int[] BlockOrder(int stageCount, bool swapped, long microbatch)
    {
        var order = Enumerable.Range(0, stageCount).ToArray();
        if (!swapped) return order;
        bool swapFirst = true, swapLast = true;
        if (stageCount == 3) { swapFirst = microbatch % 2 == 0; swapLast = !swapFirst; }
        if (stageCount == 2) swapLast = false;
        if (swapFirst) (order[0], order[1]) = (order[1], order[0]);
        if (swapLast) (order[^1], order[^2]) = (order[^2], order[^1]);
        return order;
    }

    /// <summary>The hops: embedding on stage 0 first, head on the last stage last, adjacent work on one stage merged.</summary>
    public static PipelineHop[] Hops(int stageCount, bool swapped, long microbatch)
    {
        var hops = new List<PipelineHop> { new(0, HopParts.Embed) };
        foreach (int stage in BlockOrder(stageCount, swapped, microbatch)) Append(hops, new PipelineHop(stage, HopParts.Blocks));
        Append(hops, new PipelineHop(stageCount - 1, HopParts.Head));
        return hops.ToArray();
    }

    /// <summary>Whether a microbatch takes the swapped order: a fixed share, decided from (seed, microbatch) alone.</summary>
    public static bool IsSwapped(double share, long seed, long microbatch) =>
        share > 0 && Unit(seed, microbatch) < share;

    /// <summary>True if <paramref name="hops"/> is a route <see cref="Hops"/> can produce (a peer checks routes it is sent).</summary>
    public static bool IsValid(IReadOnlyList<PipelineHop> hops, int stageCount, long microbatch) =>
        Matches(hops, Hops(stageCount, false, microbatch)) || Matches(hops, Hops(stageCount, true, microbatch));

    private static bool Matches(IReadOnlyList<PipelineHop> a, PipelineHop[] b) => a.Count == b.Length && a.SequenceEqual(b);

    private static void Append(List<PipelineHop> hops, PipelineHop hop)
    {
        if (hops[^1].Stage == hop.Stage) hops[^1] = hops[^1] with { Parts = hops[^1].Parts | hop.Parts };
        else hops.Add(hop);
    }

    /// <summary>A uniform number in [0, 1) from (seed, key, salt) by SplitMix64: the same on every peer.</summary>
    public static double Unit(long seed, long key, long salt = 0)
    {
        ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)key * 0xD1B54A32D192ED03UL ^ (ulong)salt * 0x94D049BB133111EBUL);
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
