namespace Decentralized.Node.Pipeline;

/// <summary>The next stage answered but refused or dropped the hop (the peer is alive; do not suspect it).</summary>
public sealed class HopRefusedException(string message) : Exception(message);
