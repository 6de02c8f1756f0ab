using System.Globalization;
using System.Text;
using System.Text.Json;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

public sealed partial class NodeDaemon
{
    /// <summary>What <c>decentralized status</c>, the page and scripts read: the round, who is awaited, per-peer traffic.</summary>
    public static object Status(SwarmPeer peer, Libp2pHost host) => new
    {
        peer_id = peer.LocalPeer.ToString(),
        round = peer.Round,
        step = peer.Trainer.Step,
        steps_in_round = peer.StepsInRound,
        inner_steps = peer.Options.InnerStepsPerRound,
        algorithm = peer.Options.Algorithm.ToString().ToLowerInvariant(),
        loss = Finite(peer.Stats.LastLoss),
        val_loss = Finite(peer.Stats.LastValidationLoss),
        awaited = peer.Stats.Awaited,
        members = peer.Membership.LivePeers().Select(p => p.ToString()).ToArray(),
        update_bytes_sent = peer.Stats.UpdateBytesSent,
        update_bytes_received = peer.Stats.UpdateBytesReceived,
        rejected_updates = peer.Stats.RejectedUpdates,
        rounds_completed = peer.Stats.RoundsCompleted,
        wait_seconds = peer.Stats.WaitSeconds,
        listen_addrs = host.ListenAddresses.Select(a => a.ToString()).ToArray(),
        reachability = host.Reachability.ToString().ToLowerInvariant(),
        relays = host.RelayReservations.Select(r => r.ToString()).ToArray(),
        relay_circuits = host.ActiveCircuits,
        connections = Connections(peer, host),
    };

    /// <summary>Per connected peer: direct or relayed (relayed only while no direct connection exists), traffic, RTT.</summary>
    public static object[] Connections(SwarmPeer peer, Libp2pHost host) =>
        host.ConnectedPeers.Select(p => (Peer: p, Stats: host.GetStats(p))).Where(c => c.Stats is not null).Select(c => (object)new
        {
            peer_id = c.Peer.ToString(),
            relayed = c.Stats!.IsRelayed,
            bytes_in = c.Stats.BytesReceived,
            bytes_out = c.Stats.BytesSent,
            relayed_bytes = c.Stats.RelayedBytes,
            rtt_ms = c.Stats.RoundTripTime?.TotalMilliseconds,
            round = peer.Membership.Get(c.Peer)?.Round,
        }).ToArray();

    /// <summary>Bytes in and out over all open connections.</summary>
    public static (long In, long Out) Traffic(Libp2pHost host)
    {
        long bytesIn = 0, bytesOut = 0;
        foreach (var p in host.ConnectedPeers)
            if (host.GetStats(p) is { } s) { bytesIn += s.BytesReceived; bytesOut += s.BytesSent; }
        return (bytesIn, bytesOut);
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private (string, string)? Route(string path, SwarmPeer peer, Libp2pHost host) => path switch
    {
        "/status" => ("application/json", JsonSerializer.Serialize(Status(peer, host), JsonOutput.Options)),
        "/metrics" => ("text/plain; version=0.0.4", Metrics(peer, host)),
        "/" => ("text/html", StatusPage.Html),
        _ => null,
    };

    /// <summary>Prometheus text exposition of the node's counters.</summary>
    private static string Metrics(SwarmPeer peer, Libp2pHost host)
    {
        var m = new StringBuilder();
        void Line(string name, string type, string help, double value)
        {
            m.Append("# HELP decentralized_").Append(name).Append(' ').Append(help).Append('\n');
            m.Append("# TYPE decentralized_").Append(name).Append(' ').Append(type).Append('\n');
            m.Append("decentralized_").Append(name).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        Line("round", "gauge", "Current outer round.", peer.Round);
        Line("inner_steps_total", "counter", "Inner steps taken.", peer.Trainer.Step);
        Line("loss", "gauge", "Training loss of the last inner step.", double.IsFinite(peer.Stats.LastLoss) ? peer.Stats.LastLoss : 0);
        Line("validation_loss", "gauge", "Validation loss after the last round.", double.IsFinite(peer.Stats.LastValidationLoss) ? peer.Stats.LastValidationLoss : 0);
        Line("peers", "gauge", "Live peers.", peer.Membership.LivePeers().Count);
        Line("update_bytes_sent_total", "counter", "Bytes of outer updates sent.", peer.Stats.UpdateBytesSent);
        Line("update_bytes_received_total", "counter", "Bytes of outer updates received.", peer.Stats.UpdateBytesReceived);
        Line("rounds_total", "counter", "Outer rounds completed.", peer.Stats.RoundsCompleted);
        Line("rejected_updates_total", "counter", "Updates refused (malformed, non-finite, out of bounds).", peer.Stats.RejectedUpdates);
        Line("round_wait_seconds_total", "counter", "Time spent waiting for partners.", peer.Stats.WaitSeconds);
        Line("connections", "gauge", "Open peer connections.", host.ConnectedPeers.Count);
        return m.ToString();
    }

    private void WriteReport(SwarmPeer peer, Libp2pHost host)
    {
        if (_settings.Report is null) return;
        object[] curve;
        lock (_curve) curve = _curve.ToArray();
        var (bytesIn, bytesOut) = Traffic(host);
        var report = new
        {
            peer_id = peer.LocalPeer.ToString(),
            rounds = peer.Stats.RoundsCompleted,
            round = peer.Round,
            first_val_loss = Finite(_firstValidationLoss),
            final_val_loss = Finite(peer.Stats.LastValidationLoss),
            bytes_in = bytesIn,
            bytes_out = bytesOut,
            update_bytes_sent = peer.Stats.UpdateBytesSent,
            update_bytes_received = peer.Stats.UpdateBytesReceived,
            rejected_updates = peer.Stats.RejectedUpdates,
            wait_seconds = peer.Stats.WaitSeconds,
            reachability = host.Reachability.ToString().ToLowerInvariant(),
            bytes_direct_total = host.TrafficTotals.Direct,
            bytes_relayed_total = host.TrafficTotals.Relayed,
            connections = Connections(peer, host),
            curve,
        };
        var path = Path.GetFullPath(_settings.Report);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(report, JsonOutput.Options));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
