using System.Globalization;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// An emulated access link for every TCP connection of a host (<see cref="Libp2pHostOptions.Link"/>): the rate caps the
/// host's uplink (all its writes together) and its downlink (all its reads together), as a home or datacenter port
/// would; <see cref="Latency"/> is added once to every byte sent, so a path between two shaped hosts has that one-way
/// latency and twice it as round trip. Written as <c>RATE[,latency=MS][,loss=P]</c>, e.g. <c>100mbit,latency=40ms</c>.
/// </summary>
/// <param name="BytesPerSecond">Rate of the uplink and of the downlink each, in bytes per second (0: unlimited).</param>
/// <param name="Latency">One-way latency added to every byte sent.</param>
/// <param name="Loss">
/// Packet loss probability. TCP hides loss behind retransmission, so loss shows as a lower rate per connection: the
/// steady-state throughput of a TCP flow is MSS / RTT * sqrt(3 / (2p)) (Mathis, Semke, Mahdavi and Ott 1997), which
/// caps each connection on top of the shared rate. It needs a latency, since TCP's response to loss scales with the RTT.
/// </param>
public sealed record LinkShape(long BytesPerSecond, TimeSpan Latency, double Loss = 0)
{
    /// <summary>Largest latency accepted: beyond a few seconds the handshake and round timeouts decide, not the link.</summary>
    public static readonly TimeSpan LatencyMax = TimeSpan.FromSeconds(5);

    /// <summary>Largest loss accepted; above it TCP mostly stalls on timeouts, which the Mathis model does not describe.</summary>
    public const double LossMax = 0.1;

    /// <summary>Payload bytes of one TCP segment on a 1500-byte Ethernet path (IPv4, timestamps option).</summary>
    public const int SegmentBytes = 1448;

    /// <summary>No shaping at all.</summary>
    public bool IsNone => BytesPerSecond == 0 && Latency == TimeSpan.Zero && Loss == 0;

    /// <summary>Round-trip time of a path between two hosts shaped alike.</summary>
    public TimeSpan RoundTrip => Latency * 2;

    /// <summary>
    /// Bytes a control frame may find queued ahead of it on a busy connection: a few of the swarm's 1 MiB update chunks
    /// (a Yamux write holds the connection for one chunk, as its window allows, and the uplink is shared).
    /// </summary>
    public const long QueuedBytesMax = 4L << 20;

    /// <summary>
    /// What the link adds to the host's negotiation and handshake timeouts: the time <see cref="QueuedBytesMax"/> take
    /// at its rate. Those timeouts assume a frame waits milliseconds behind bulk data, true at real rates; a link slowed
    /// to a small model's scale (kbit/s) makes that wait tens of seconds, since Yamux's windows and chunks do not shrink
    /// with the model. Without this, streams opened while updates flow time out and their sends are lost.
    /// </summary>
    public TimeSpan QueueingAllowance => BytesPerSecond == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)QueuedBytesMax / BytesPerSecond)
        + (FlowBytesPerSecond == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)QueuedBytesMax / FlowBytesPerSecond));

    /// <summary>Each connection's rate limit from loss (Mathis et al.), in bytes per second; 0 when there is no loss.</summary>
    public long FlowBytesPerSecond => Loss == 0 ? 0
        : Math.Max(1, (long)(SegmentBytes / RoundTrip.TotalSeconds * Math.Sqrt(3.0 / (2.0 * Loss))));

    /// <summary>
    /// Reads <c>RATE[,latency=DURATION][,loss=P]</c>. RATE is a number with <c>bit</c>, <c>kbit</c>, <c>mbit</c> or
    /// <c>gbit</c> (per second, decimal prefixes as network links are sold) or <c>unlimited</c>; DURATION is a number with
    /// <c>ms</c> or <c>s</c>; P is a probability. Anything else is refused with a line naming the part.
    /// </summary>
    public static LinkShape Parse(string text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts[0].Length == 0) throw Refuse(text, "give a rate first, e.g. 100mbit");
        long rate = Rate(text!, parts[0]);
        TimeSpan latency = TimeSpan.Zero;
        double loss = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            if (!seen.Add(key)) throw Refuse(text!, $"'{key}' given twice");
            switch (key)
            {
                case "latency": latency = Duration(text!, value); break;
                case "loss": loss = Probability(text!, value); break;
                default: throw Refuse(text!, $"unknown part '{part}': use latency=MS or loss=P");
            }
        }
        if (loss > 0 && latency == TimeSpan.Zero) throw Refuse(text!, "loss needs a latency (TCP's response to loss scales with the round trip), e.g. latency=20ms");
        return new LinkShape(rate, latency, loss);
    }

    /// <summary>The canonical text, which <see cref="Parse"/> reads back to an equal shape.</summary>
    public override string ToString()
    {
        var s = BytesPerSecond == 0 ? "unlimited" : (BytesPerSecond * 8).ToString(CultureInfo.InvariantCulture) + "bit";
        if (Latency > TimeSpan.Zero) s += ",latency=" + Latency.TotalMilliseconds.ToString("R", CultureInfo.InvariantCulture) + "ms";
        if (Loss > 0) s += ",loss=" + Loss.ToString("R", CultureInfo.InvariantCulture);
        return s;
    }

    private static readonly (string Suffix, double BitsPerUnit)[] RateUnits = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)];

    private static long Rate(string text, string part)
    {
        if (part.Equals("unlimited", StringComparison.OrdinalIgnoreCase)) return 0;
        foreach (var (suffix, bits) in RateUnits)
        {
            if (!part.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            if (!double.TryParse(part[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !double.IsFinite(n))
                throw Refuse(text, $"rate '{part}' is not a number of {suffix}");
            double bytes = n * bits / 8;
            // 1 kbit/s at least (slower links stall every timeout); 1 Tbit/s at most (beyond any port, and far beyond loopback).
            if (bytes < 125 || bytes > 125e9) throw Refuse(text, $"rate '{part}' must be between 1kbit and 1000gbit, or unlimited");
            return (long)bytes;
        }
        throw Refuse(text, $"rate '{part}' needs a unit: bit, kbit, mbit or gbit (per second), e.g. 100mbit");
    }

    private static TimeSpan Duration(string text, string value)
    {
        double scale = value.EndsWith("ms", StringComparison.Ordinal) ? 1 : value.EndsWith('s') ? 1000 : double.NaN;
        string number = value.EndsWith("ms", StringComparison.Ordinal) ? value[..^2] : value.EndsWith('s') ? value[..^1] : value;
        if (double.IsNaN(scale) || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !double.IsFinite(n))
            throw Refuse(text, $"latency '{value}' must be a duration with ms or s, e.g. latency=40ms");
        var latency = TimeSpan.FromMilliseconds(n * scale);
        if (latency < TimeSpan.Zero || latency > LatencyMax) throw Refuse(text, $"latency {value} must be between 0 and {LatencyMax.TotalSeconds:0} s");
        return latency;
    }

    private static double Probability(string text, string value)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) || !(p >= 0 && p <= LossMax))
            throw Refuse(text, $"loss '{value}' must be a probability between 0 and {LossMax}, e.g. loss=0.001");
        return p;
    }

    private static ArgumentException Refuse(string? text, string why) => new($"--link {text}: {why}");
}
