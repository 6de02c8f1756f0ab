namespace Decentralized.Simulations.Compute;

/// <summary>One scheduled membership change. For <see cref="ChurnKind.Join"/> the slot is the new peer's index.</summary>
/// <param name="At">Virtual time of the change.</param>
/// <param name="Kind">Leave, crash or join.</param>
/// <param name="Slot">Peer index: who leaves or crashes (among the initial and joined peers), or the joiner's new index.</param>
public sealed record ChurnEvent(TimeSpan At, ChurnKind Kind, int Slot);
