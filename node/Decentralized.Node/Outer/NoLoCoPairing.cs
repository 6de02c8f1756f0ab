namespace Decentralized.Node.Outer;

/// <summary>
/// Coordinator-free grouping for NoLoCo. Every member derives the same permutation of the sorted live
/// member list from (swarm seed, round), as the reference code does from the step number, so no message is
/// needed to agree. With group size 2, perm[k] is paired with perm[k + N/2]; an odd member out joins the
/// last group (a group of three). Larger groups deal the permutation round-robin into ⌊N/n⌋ groups.
/// </summary>
public static class NoLoCoPairing
{
    /// <summary>Groups of member indices into <paramref name="sortedMembers"/>; every member is in exactly one group.</summary>
    public static IReadOnlyList<int[]> Groups(int memberCount, long swarmSeed, long round, int groupSize = 2)
    {
        if (memberCount <= 0) return Array.Empty<int[]>();
        if (groupSize < 2) throw new ArgumentException("group size must be at least 2");
        if (memberCount == 1) return new[] { new[] { 0 } };
        var perm = Permutation(memberCount, swarmSeed, round);
        int groupCount = Math.Max(1, memberCount / groupSize);
        var groups = new List<int>[groupCount];
        for (int g = 0; g < groupCount; g++) groups[g] = new List<int>(groupSize + 1);
        for (int k = 0; k < groupCount * groupSize; k++) groups[k % groupCount].Add(perm[k]);
        for (int k = groupCount * groupSize; k < memberCount; k++) groups[groupCount - 1].Add(perm[k]);
        return groups.Select(g => g.ToArray()).ToArray();
    }

    /// <summary>The group (as member indices) that contains <paramref name="member"/>.</summary>
    public static int[] GroupOf(int member, int memberCount, long swarmSeed, long round, int groupSize = 2) =>
        Groups(memberCount, swarmSeed, round, groupSize).First(g => g.Contains(member));

    /// <summary>A Fisher-Yates permutation from a SplitMix64 stream seeded by (seed, round): identical on every peer and runtime.</summary>
    public static int[] Permutation(int count, long seed, long round)
    {
        var perm = Enumerable.Range(0, count).ToArray();
        ulong state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)round * 0xD1B54A32D192ED03UL);
        for (int i = count - 1; i > 0; i--)
        {
            int j = (int)(SplitMix64(ref state) % (ulong)(i + 1));
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        return perm;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
