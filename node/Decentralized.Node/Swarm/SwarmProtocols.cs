namespace Decentralized.Node.Swarm;

/// <summary>Protocol ids of the swarm's own streams (negotiated by multistream-select like any libp2p protocol).</summary>
public static class SwarmProtocols
{
    public const string Gate = "/decentralized/gate/1.0.0";
    public const string Heartbeat = "/decentralized/heartbeat/1.0.0";
    public const string State = "/decentralized/state/2.0.0";
    public const string Update = "/decentralized/update/1.0.0";
    public const string Status = "/decentralized/status/1.0.0";

    /// <summary>Bumped when any message above changes incompatibly; peers with another value are refused.</summary>
    public const int Version = 2;
}
