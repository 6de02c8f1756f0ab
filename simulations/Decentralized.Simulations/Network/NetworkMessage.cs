namespace Decentralized.Simulations.Network;

/// <summary>
/// One message on the modelled network: a size and what to do when it has left the sender's uplink, when it
/// arrives, or when it is lost to a partition or crash. The bytes themselves (if any) live with the caller; the
/// model only needs the size.
/// </summary>
public sealed class NetworkMessage
{
    /// <summary>Creates a message of <paramref name="bytes"/> wire bytes from node <paramref name="from"/> to node <paramref name="to"/>.</summary>
    public NetworkMessage(int from, int to, long bytes, Action onDelivered)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        From = from;
        To = to;
        Bytes = bytes;
        OnDelivered = onDelivered;
    }

    /// <summary>Sending node.</summary>
    public int From { get; }

    /// <summary>Receiving node.</summary>
    public int To { get; }

    /// <summary>Wire bytes (payload plus framing).</summary>
    public long Bytes { get; }

    /// <summary>Messages with the same key are delivered in send order (one direction of one stream); null: no constraint.</summary>
    public object? OrderKey { get; init; }

    /// <summary>Runs (as a sender event) when the last byte has left the sender's uplink: the moment a write returns.</summary>
    public Action? OnTransmitted { get; init; }

    /// <summary>Runs (as a receiver event) when the message has fully arrived.</summary>
    public Action OnDelivered { get; }

    /// <summary>Runs (as a sender event) when the message is lost to a partition or a crash.</summary>
    public Action? OnDropped { get; init; }

    internal bool Dropped { get; set; }

    internal bool Ready { get; set; }

    internal bool Finished { get; set; }

    internal TimeSpan SentAt { get; set; }

    /// <summary>Send order, for deterministic iteration where several messages are handled at once.</summary>
    internal long Sequence { get; set; }
}
