namespace Decentralized.Node.Pipeline;

/// <summary>
/// Which stage a peer serves, decided by every peer from the same view of the swarm without a coordinator.
/// A joiner takes the stage with the fewest live replicas (lowest index on ties). When a stage has no replica
/// left and no joiner fills it, one peer of the stage with the most replicas moves there: the smallest peer id of
/// that stage (lowest stage index on ties), and only if its stage keeps at least one replica.
/// </summary>
public static class StageAssignment
{
    /// <summary>The stage for a peer joining a swarm whose live replicas per stage are <paramref name="replicas"/>.</summary>
    public static int ForJoiner(IReadOnlyList<int> replicas, int? configured = null)
    {
        if (configured is int fixedStage) return fixedStage;
        int best = 0;
        for (int s = 1; s < replicas.Count; s++) if (replicas[s] < replicas[best]) best = s;
        return best;
    }

    /// <summary>
    /// The empty stage <paramref name="self"/> should move to, or null. <paramref name="stageOf"/> maps every live
    /// peer (ourselves included) to its stage; peer ids compare as strings.
    /// </summary>
    /// <param name="lost">Whether a stage with no live replica had replicas before (a stage never seen is the joiners' to fill, and at start-up it may just not be heard from yet).</param>
    public static int? MoveFor(string self, IReadOnlyDictionary<string, int> stageOf, int stageCount, Func<int, bool> lost)
    {
        var replicas = new int[stageCount];
        foreach (int stage in stageOf.Values) if (stage >= 0 && stage < stageCount) replicas[stage]++;
        int empty = Enumerable.Range(0, stageCount).FirstOrDefault(s => replicas[s] == 0 && lost(s), -1);
        if (empty < 0) return null;
        int donor = 0;
        for (int s = 1; s < stageCount; s++) if (replicas[s] > replicas[donor]) donor = s;
        if (replicas[donor] < 2) return null;
        string mover = stageOf.Where(p => p.Value == donor).Select(p => p.Key).Min(StringComparer.Ordinal)!;
        return mover == self ? empty : null;
    }
}
