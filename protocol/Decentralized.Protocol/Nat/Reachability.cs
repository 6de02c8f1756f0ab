namespace Decentralized.Protocol.Nat;

/// <summary>Whether other peers can open connections to us, as AutoNAT dial-backs found.</summary>
public enum Reachability
{
    /// <summary>No peer has answered a dial-back request yet.</summary>
    Unknown,
    /// <summary>Peers dialed us back: our addresses are reachable from outside.</summary>
    Public,
    /// <summary>Peers could not dial us back: a NAT or a firewall stands in between.</summary>
    Private,
}
