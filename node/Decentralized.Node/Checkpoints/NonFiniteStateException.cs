namespace Decentralized.Node.Checkpoints;

/// <summary>A save was refused because the state holds NaN or ±Inf: a diverged state must never replace a good checkpoint.</summary>
public sealed class NonFiniteStateException(string message) : Exception(message);
