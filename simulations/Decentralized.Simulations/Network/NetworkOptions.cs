namespace Decentralized.Simulations.Network;

/// <summary>
/// The network model's knobs. Defaults describe a WAN between data centres: 1 Gbit/s each way per peer,
/// 50 ms one-way latency (100 ms round trip) with a few ms of jitter, no loss.
/// </summary>
public sealed record NetworkOptions
{
    /// <summary>One-way propagation delay of every link. Raise it for intercontinental peers.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Mean of the exponential extra delay each message gets; also what lets messages of different streams overtake each other.</summary>
    public TimeSpan Jitter { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Extra one-way delay per peer drawn uniformly from [0, this] (access links differ); 0 makes all links equal.</summary>
    public TimeSpan PeerLatencySpread { get; init; } = TimeSpan.Zero;

    /// <summary>Each peer's upload capacity, shared fairly by its concurrent transfers.</summary>
    public double UplinkBitsPerSecond { get; init; } = 1e9;

    /// <summary>Each peer's download capacity, shared fairly by its concurrent transfers.</summary>
    public double DownlinkBitsPerSecond { get; init; } = 1e9;

    /// <summary>
    /// Packet loss probability. The transport is TCP, so loss never loses data: it caps a transfer's rate (the Mathis
    /// et al. bound MSS/(RTT·√(2p/3))) and delays messages by a retransmission.
    /// </summary>
    public double LossRate { get; init; }

    /// <summary>TCP segment payload (MSS) used by the loss model and the per-frame overhead.</summary>
    public int SegmentBytes { get; init; } = 1448;

    /// <summary>Floor of the retransmission timeout (Linux: 200 ms), paid when a short message loses its tail.</summary>
    public TimeSpan MinRetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Round trips a new connection costs before streams can open (TCP, Noise XX, multistream-select).</summary>
    public int DialRoundTrips { get; init; } = 3;

    /// <summary>How long a dial to an unreachable (crashed or partitioned) peer takes to fail.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long after a partition begins its crossing connections are reset (a keep-alive timeout); data sent meanwhile is lost.</summary>
    public TimeSpan PartitionDetection { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest single write a simulated stream accepts, in bytes (writes are split into messages of this size).</summary>
    public int MaxMessageBytes { get; init; } = 4 << 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public NetworkOptions Validate()
    {
        Require(Latency >= TimeSpan.Zero && Latency < TimeSpan.FromHours(1), "latency must be between 0 and 1 hour");
        Require(Jitter >= TimeSpan.Zero && Jitter < TimeSpan.FromHours(1), "jitter must be between 0 and 1 hour");
        Require(PeerLatencySpread >= TimeSpan.Zero && PeerLatencySpread < TimeSpan.FromHours(1), "latency spread must be between 0 and 1 hour");
        Require(UplinkBitsPerSecond is >= 1e3 and <= 1e13, "uplink must be between 1 kbit/s and 10 Tbit/s");
        Require(DownlinkBitsPerSecond is >= 1e3 and <= 1e13, "downlink must be between 1 kbit/s and 10 Tbit/s");
        Require(LossRate is >= 0 and < 0.5, "loss rate must be in [0, 0.5)");
        Require(SegmentBytes is >= 64 and <= 65536, "segment size must be between 64 and 65536 bytes");
        Require(MinRetransmitTimeout >= TimeSpan.Zero, "retransmit timeout must be 0 or more");
        Require(DialRoundTrips is >= 0 and <= 100, "dial round trips must be between 0 and 100");
        Require(DialTimeout > TimeSpan.Zero, "dial timeout must be positive");
        Require(PartitionDetection >= TimeSpan.Zero, "partition detection must be 0 or more");
        Require(MaxMessageBytes is >= 1024 and <= 1 << 30, "max message size must be between 1 KiB and 1 GiB");
        return this;
    }

    /// <summary>The knobs as name/value pairs, for the run header.</summary>
    public IEnumerable<(string Name, string Value)> Describe()
    {
        yield return ("latency_ms", Ms(Latency));
        yield return ("jitter_ms", Ms(Jitter));
        yield return ("peer_latency_spread_ms", Ms(PeerLatencySpread));
        yield return ("uplink_gbps", (UplinkBitsPerSecond / 1e9).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
        yield return ("downlink_gbps", (DownlinkBitsPerSecond / 1e9).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
        yield return ("loss_rate", LossRate.ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture));
        yield return ("dial_round_trips", DialRoundTrips.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return ("dial_timeout_s", DialTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
        yield return ("partition_detection_s", PartitionDetection.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
