namespace Decentralized.Node.Swarm;

/// <summary>A peer broke the swarm protocol (malformed, oversized or unexpected input); only that stream or connection is dropped.</summary>
public sealed class SwarmProtocolException(string message) : Exception(message);
