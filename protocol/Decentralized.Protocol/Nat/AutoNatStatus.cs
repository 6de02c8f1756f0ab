namespace Decentralized.Protocol.Nat;

/// <summary>AutoNAT v1 <c>ResponseStatus</c> values (wire values from the spec).</summary>
public enum AutoNatStatus
{
    /// <summary>At least one dial back succeeded.</summary>
    Ok = 0,
    /// <summary>Every dial back failed: the requester is not reachable on those addresses.</summary>
    DialError = 100,
    /// <summary>The server refused to dial (rate limit, no acceptable address, relayed request).</summary>
    DialRefused = 101,
    /// <summary>The request was malformed.</summary>
    BadRequest = 200,
    /// <summary>The server failed for its own reasons.</summary>
    InternalError = 300,
}
