namespace Decentralized.Simulations.Compute;

/// <summary>What happens to a peer in a churn event.</summary>
public enum ChurnKind
{
    /// <summary>The peer says goodbye and closes its connections (its partners learn at once).</summary>
    Leave,
    /// <summary>The peer's process dies: no goodbye; partners notice through resets and timeouts.</summary>
    Crash,
    /// <summary>A new peer joins: it dials a live member, fetches the current weights and starts training.</summary>
    Join,
}
