namespace Decentralized.Protocol.Yamux;

/// <summary>Yamux frame flags.</summary>
[Flags]
public enum YamuxFlags : ushort
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>Opens a stream (or is a ping request).</summary>
    Syn = 1,
    /// <summary>Accepts a stream (or is a ping answer).</summary>
    Ack = 2,
    /// <summary>Half-closes the sender's direction.</summary>
    Fin = 4,
    /// <summary>Resets the stream.</summary>
    Rst = 8,
}
