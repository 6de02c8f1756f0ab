namespace Decentralized.Protocol.Yamux;

/// <summary>Limits and tuning of one Yamux session. Defaults are safe for the public internet.</summary>
public sealed record YamuxOptions
{
    /// <summary>The window every stream starts with (fixed by the Yamux spec: 256 KiB).</summary>
    public const int InitialWindowBytes = 256 * 1024;

    /// <summary>
    /// Largest receive window a stream grows to while a fast reader drains it (default 16 MiB, js's maximum).
    /// Lower it on memory-starved hosts; raise it only for very high bandwidth-delay links.
    /// </summary>
    public int MaxStreamWindowBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Budget for window growth summed over all streams of a session (default 64 MiB). Bounds what one peer can make us
    /// buffer; streams stop growing when it is spent.
    /// </summary>
    public long MaxSessionWindowGrowthBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Streams the peer may have open at once (default 256; js allows 1000). Extra SYNs are answered with RST.</summary>
    public int MaxInboundStreams { get; init; } = 256;

    /// <summary>
    /// Streams the peer may have open at once while the session is untrusted, i.e. before the connection gate passed
    /// (default 8: the gate stream, identify and ping, plus the few streams a peer opens the moment its own side of the
    /// gate passed, which can arrive before ours has). Extra SYNs are answered with RST.
    /// </summary>
    public int MaxInboundStreamsUntrusted { get; init; } = 8;

    /// <summary>
    /// Unread bytes all streams of an untrusted session may hold together (default 128 KiB: two gate messages of the
    /// largest control size). A peer that sends more before the gate passed is cut off: without this, 256 streams with
    /// 256 KiB windows let a stranger park 64 MiB per pending handshake. Windows do not grow until the session is trusted.
    /// </summary>
    public int MaxBufferedBytesUntrusted { get; init; } = 128 * 1024;

    /// <summary>Streams we may have open at once (default 1024).</summary>
    public int MaxOutboundStreams { get; init; } = 1024;

    /// <summary>Inbound streams waiting to be accepted (default 256, the spec's ACK backlog). Extra SYNs get RST.</summary>
    public int AcceptBacklog { get; init; } = 256;

    /// <summary>
    /// Largest Data payload we send in one frame (default 256 KiB). A whole application write up to this size goes out
    /// as one frame, so the peer's reader sees it in one piece (splitting 64 KiB writes at the 65519-byte Noise frame
    /// size left a 29-byte runt frame per write, which an echoing peer then sent back as its own write). Frames may span
    /// several Noise frames; peers accept any frame that fits the window.
    /// </summary>
    public int MaxFramePayloadBytes { get; init; } = 256 * 1024;

    /// <summary>Interval of keepalive pings; an unanswered ping by the next tick closes the session. Null disables.</summary>
    public TimeSpan? KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Control frames (window updates, ping answers, resets) queued unsent before the peer counts as flooding.</summary>
    public int MaxPendingControlFrames { get; init; } = 4096;

    /// <summary>Explicit pings awaiting an answer at once.</summary>
    public int MaxOutstandingPings { get; init; } = 16;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for an unusable combination.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreamWindowBytes, InitialWindowBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxSessionWindowGrowthBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutboundStreams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreamsUntrusted, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBufferedBytesUntrusted, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(AcceptBacklog, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFramePayloadBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingControlFrames, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutstandingPings, 1);
        if (KeepAliveInterval is { } interval && interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval));
        }
    }
}
