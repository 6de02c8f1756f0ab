namespace Decentralized.Node.Checkpoints;

/// <summary>A checkpoint that is missing, corrupt, truncated or belongs to another run; the message says which.</summary>
public sealed class CheckpointException(string message) : Exception(message);
