namespace Decentralized.Protocol.Yamux;

/// <summary>Yamux frame types.</summary>
public enum YamuxFrameType : byte
{
    /// <summary>Stream data; length = payload bytes that follow.</summary>
    Data = 0,
    /// <summary>Receive-window increase; length = delta.</summary>
    WindowUpdate = 1,
    /// <summary>Session ping on stream 0; length = opaque value.</summary>
    Ping = 2,
    /// <summary>Session shutdown on stream 0; length = <see cref="YamuxGoAwayCode"/>.</summary>
    GoAway = 3,
}
