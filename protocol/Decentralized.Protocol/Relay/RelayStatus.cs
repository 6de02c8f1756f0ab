namespace Decentralized.Protocol.Relay;

/// <summary>Circuit relay v2 <c>Status</c> values (wire values from libp2p/specs relay/circuit-v2.md).</summary>
public enum RelayStatus
{
    /// <summary>Zero value; never sent.</summary>
    Unused = 0,
    /// <summary>Accepted.</summary>
    Ok = 100,
    /// <summary>The relay will not take a reservation (full, or it does not relay now).</summary>
    ReservationRefused = 200,
    /// <summary>Too many relayed connections (in total, from the initiator, or to the target).</summary>
    ResourceLimitExceeded = 201,
    /// <summary>Refused by policy (e.g. a request over an already relayed connection).</summary>
    PermissionDenied = 202,
    /// <summary>The relay could not reach the target, or the target refused.</summary>
    ConnectionFailed = 203,
    /// <summary>The target holds no reservation on this relay.</summary>
    NoReservation = 204,
    /// <summary>The message could not be decoded.</summary>
    MalformedMessage = 400,
    /// <summary>The message type is not valid here.</summary>
    UnexpectedMessage = 401,
}
