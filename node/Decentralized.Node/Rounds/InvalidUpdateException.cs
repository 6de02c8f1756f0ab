namespace Decentralized.Node.Rounds;

/// <summary>A peer's update blob is malformed in a way the codec itself does not check (the two-part frame).</summary>
public sealed class InvalidUpdateException(string message) : Exception(message);
