namespace Decentralized.Node.Pipeline;

/// <summary>How a peer came to serve a stage.</summary>
public enum StageRecoveryMethod
{
    /// <summary>Fresh weights from the swarm seed (the swarm is starting).</summary>
    Initial,
    /// <summary>Copied from a live replica of the same stage (an ordinary join).</summary>
    CopiedReplica,
    /// <summary>CheckFree: weighted average of the two neighbouring stages.</summary>
    CheckFreeAverage,
    /// <summary>CheckFree+: the neighbour's blocks plus its exact copy of the embedding or head.</summary>
    CheckFreePlusCopy,
    /// <summary>First or last stage without CheckFree+: the neighbour's blocks (never trained to stand in) and its copy of the embedding or head.</summary>
    NeighbourCopy,
    /// <summary>First or last stage whose embedding or head copy was not yet replicated: the neighbour's blocks, the rest from the seed.</summary>
    NeighbourCopyDegraded,
}

/// <summary>A peer took up a stage (raised after the new weights are in place).</summary>
public sealed record StageRecovery(int Stage, StageRecoveryMethod Method, int? PreviousStage, double PreviousWeight, double NextWeight, long Round);
