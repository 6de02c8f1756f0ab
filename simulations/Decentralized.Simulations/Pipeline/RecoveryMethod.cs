namespace Decentralized.Simulations.Pipeline;

/// <summary>How a pipeline run survives the loss of a whole stage (CheckFree paper, section 5 and table 2).</summary>
public enum RecoveryMethod
{
    /// <summary>No failures: the reference curve the target loss comes from.</summary>
    FailureFree,
    /// <summary>Rebuild an intermediate stage as the ω-weighted average of its neighbours; first/last stage by copying the neighbour.</summary>
    CheckFree,
    /// <summary>CheckFree plus swapped-order microbatches, so a copied neighbour can stand in for the first or last stage.</summary>
    CheckFreePlus,
    /// <summary>Checkpoint every interval (write cost counted); on a failure every stage rolls back to the last checkpoint.</summary>
    Checkpoint,
    /// <summary>Bamboo-style redundant computation: slower iterations, a lost stage is taken over with its exact state.</summary>
    Redundant,
}
