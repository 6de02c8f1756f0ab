namespace Decentralized.Protocol.Yamux;

/// <summary>GoAway reason codes.</summary>
public enum YamuxGoAwayCode : uint
{
    /// <summary>Normal shutdown.</summary>
    Normal = 0,
    /// <summary>The peer broke the protocol.</summary>
    ProtocolError = 1,
    /// <summary>Internal failure.</summary>
    InternalError = 2,
}
