using System.Globalization;
using System.Text;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

public sealed partial class NodeDaemon
{
    /// <summary>Prometheus text exposition: the node's counters, per-peer traffic and throughput, joiners, process resources.</summary>
    private string Metrics(SwarmPeer peer, Libp2pHost host)
    {
        var m = new StringBuilder();
        Family(m, "round", "gauge", "Current outer round.", [("", peer.Round)]);
        Family(m, "inner_steps_total", "counter", "Inner steps taken.", [("", peer.Trainer.Step)]);
        Family(m, "loss", "gauge", "Training loss of the last inner step.", [("", double.IsFinite(peer.Stats.LastLoss) ? peer.Stats.LastLoss : 0)]);
        Family(m, "validation_loss", "gauge", "Validation loss after the last round.", [("", double.IsFinite(peer.Stats.LastValidationLoss) ? peer.Stats.LastValidationLoss : 0)]);
        Family(m, "peers", "gauge", "Live peers.", [("", peer.Membership.LivePeers().Count)]);
        Family(m, "awaited_peers", "gauge", "Partners the current round still waits for.", [("", peer.Stats.Awaited.Count)]);
        Family(m, "suspended_peers", "gauge", "Peers left out of pairing after missing rounds in a row.", [("", peer.Stats.Suspended.Count)]);
        Family(m, "update_bytes_sent_total", "counter", "Bytes of outer updates sent.", [("", peer.Stats.UpdateBytesSent)]);
        Family(m, "update_bytes_received_total", "counter", "Bytes of outer updates received.", [("", peer.Stats.UpdateBytesReceived)]);
        Family(m, "rounds_total", "counter", "Outer rounds completed.", [("", peer.Stats.RoundsCompleted)]);
        Family(m, "rejected_updates_total", "counter", "Updates refused (malformed, non-finite, out of bounds).", [("", peer.Stats.RejectedUpdates)]);
        Family(m, "round_wait_seconds_total", "counter", "Time spent waiting for partners.", [("", peer.Stats.WaitSeconds)]);
        Family(m, "connections", "gauge", "Open peer connections.", [("", host.ConnectedPeers.Count)]);
        if (_checkpoints is { } c)
        {
            Family(m, "checkpoint_round", "gauge", "Round of the newest checkpoint on disk (-1: none yet).", [("", c.Round ?? -1)]);
            Family(m, "checkpoint_failures_total", "counter", "Checkpoint saves that failed (full disk, read-only, non-finite state).", [("", c.Failures)]);
            Family(m, "checkpoint_failing", "gauge", "1 while the last checkpoint save failed (retried every round), else 0.", [("", c.Failing ? 1 : 0)]);
        }
        Family(m, "divergences_total", "counter", "Times training went non-finite and was rolled back.", [("", _divergences)]);

        var connected = host.ConnectedPeers.Select(p => (Peer: p.ToString(), Stats: host.GetStats(p))).Where(c => c.Stats is not null).ToArray();
        string Label(string id) => $"{{peer=\"{id}\"}}";
        // Counters over every connection to the peer, closed ones included, so they do not fall back when it reconnects.
        var traffic = host.TrafficByPeer;
        Family(m, "peer_bytes_in_total", "counter", "Bytes received from each peer since the node started (wire bytes).", traffic.Select(t => (Label(t.Peer.ToString()), (double)t.BytesReceived)));
        Family(m, "peer_bytes_out_total", "counter", "Bytes sent to each peer since the node started (wire bytes).", traffic.Select(t => (Label(t.Peer.ToString()), (double)t.BytesSent)));
        Family(m, "peer_in_bytes_per_second", "gauge", "Measured receive throughput per peer over the last 10 s.", connected.Select(c => (Label(c.Peer), _traffic.Rate(c.Peer).InPerSecond)));
        Family(m, "peer_out_bytes_per_second", "gauge", "Measured send throughput per peer over the last 10 s.", connected.Select(c => (Label(c.Peer), _traffic.Rate(c.Peer).OutPerSecond)));

        Family(m, "joiners_serving", "gauge", "Joiners this node is sending training state to now.", [("", _serving?.Active.Count ?? 0)]);
        Family(m, "state_bytes_served_total", "counter", "Bytes of training state served to joiners.", [("", peer.Stats.StateBytesServed)]);

        var p = ProcessSample.Read();
        Family(m, "process_resident_bytes", "gauge", "Resident set size of the daemon.", [("", p.ResidentBytes)]);
        Family(m, "managed_heap_bytes", "gauge", "Managed heap in use (GC.GetTotalMemory).", [("", p.ManagedHeapBytes)]);
        Family(m, "gc_committed_bytes", "gauge", "Memory the GC has committed (heap plus its free space); resident minus this is native.", [("", p.GcCommittedBytes)]);
        Family(m, "live_tensors", "gauge", "TorchSharp tensors alive (created, not yet disposed).", [("", p.LiveTensors)]);
        Family(m, "open_files", "gauge", "Open file handles, sockets included (/proc/self/fd).", [("", p.OpenFiles)]);
        Family(m, "threads", "gauge", "Threads of the daemon process.", [("", p.Threads)]);
        return m.ToString();
    }

    /// <summary>One metric family: HELP and TYPE once, then a sample per label set ("" for none).</summary>
    private static void Family(StringBuilder m, string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
    {
        m.Append("# HELP decentralized_").Append(name).Append(' ').Append(help).Append('\n');
        m.Append("# TYPE decentralized_").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
            m.Append("decentralized_").Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }
}
