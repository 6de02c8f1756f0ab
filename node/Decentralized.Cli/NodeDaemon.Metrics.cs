using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;
using Prometheus;

namespace Decentralized.Cli;

public sealed partial class NodeDaemon
{
    /// <summary>One unlabelled metric: its name after <c>decentralized_</c>, help, kind and where its value comes from.</summary>
    private sealed record Scalar(string Name, string Help, bool IsCounter, Func<double> Value);

    /// <summary>
    /// The node's /metrics, through prometheus-net on a registry of its own (no default process metrics: ours carry
    /// the names the docs and tools use). Values are read from the daemon when a scrape collects, never kept twice.
    /// </summary>
    private CollectorRegistry CreateMetrics(SwarmPeer peer, Libp2pHost host)
    {
        var registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(registry);
        var process = ProcessSample.Read();
        var scalars = Scalars(peer, host, () => process).Select(s => (Scalar: s, Set: Create(factory, s))).ToArray();
        // Counters over every connection to the peer, closed ones included, so they do not fall back when it reconnects.
        var bytesIn = factory.CreateCounter(Prefix + "peer_bytes_in_total", "Bytes received from each peer since the node started (wire bytes).", "peer");
        var bytesOut = factory.CreateCounter(Prefix + "peer_bytes_out_total", "Bytes sent to each peer since the node started (wire bytes).", "peer");
        var rateIn = factory.CreateGauge(Prefix + "peer_in_bytes_per_second", "Measured receive throughput per peer over the last 10 s.", "peer");
        var rateOut = factory.CreateGauge(Prefix + "peer_out_bytes_per_second", "Measured send throughput per peer over the last 10 s.", "peer");
        registry.AddBeforeCollectCallback(() =>
        {
            process = ProcessSample.Read();
            foreach (var (scalar, set) in scalars) set(scalar.Value());
            foreach (var t in host.TrafficByPeer)
            {
                bytesIn.WithLabels(t.Peer.ToString()).IncTo(t.BytesReceived);
                bytesOut.WithLabels(t.Peer.ToString()).IncTo(t.BytesSent);
            }
            var connected = host.ConnectedPeers.Where(p => host.GetStats(p) is not null).Select(p => p.ToString()).ToHashSet();
            foreach (var gone in rateIn.GetAllLabelValues().Where(l => !connected.Contains(l[0])).ToArray())
            {
                rateIn.RemoveLabelled(gone);
                rateOut.RemoveLabelled(gone);
            }
            foreach (var p in connected)
            {
                rateIn.WithLabels(p).Set(_traffic.Rate(p).InPerSecond);
                rateOut.WithLabels(p).Set(_traffic.Rate(p).OutPerSecond);
            }
        });
        return registry;
    }

    private const string Prefix = "decentralized_";

    private static Action<double> Create(IMetricFactory factory, Scalar s)
    {
        if (s.IsCounter)
        {
            var counter = factory.CreateCounter(Prefix + s.Name, s.Help);
            return counter.IncTo;   // the daemon's own counters only grow
        }
        var gauge = factory.CreateGauge(Prefix + s.Name, s.Help);
        return gauge.Set;
    }

    private IEnumerable<Scalar> Scalars(SwarmPeer peer, Libp2pHost host, Func<ProcessSample> process)
    {
        static double Finite0(double v) => double.IsFinite(v) ? v : 0;
        yield return new("round", "Current outer round.", false, () => peer.Round);
        yield return new("inner_steps_total", "Inner steps taken.", true, () => peer.Trainer.Step);
        yield return new("loss", "Training loss of the last inner step.", false, () => Finite0(peer.Stats.LastLoss));
        yield return new("validation_loss", "Validation loss after the last round.", false, () => Finite0(peer.Stats.LastValidationLoss));
        yield return new("peers", "Live peers.", false, () => peer.Membership.LivePeers().Count);
        yield return new("awaited_peers", "Partners the current round still waits for.", false, () => peer.Stats.Awaited.Count);
        yield return new("suspended_peers", "Peers left out of pairing after missing rounds in a row.", false, () => peer.Stats.Suspended.Count);
        yield return new("excluded_peers", "Partners whose updates are scored but not applied (negative scores in a row) until they score positive.", false, () => peer.Stats.Excluded.Count);
        yield return new("updates_scored_total", "Partner updates scored on the held-out batch before being applied.", true, () => peer.Stats.UpdatesScored);
        yield return new("scoring_seconds_total", "Time spent scoring partner updates on the held-out batch (forward passes).", true, () => peer.Stats.ScoringSeconds);
        yield return new("update_bytes_sent_total", "Bytes of outer updates sent.", true, () => peer.Stats.UpdateBytesSent);
        yield return new("update_bytes_received_total", "Bytes of outer updates received.", true, () => peer.Stats.UpdateBytesReceived);
        yield return new("rounds_total", "Outer rounds completed.", true, () => peer.Stats.RoundsCompleted);
        yield return new("rejected_updates_total", "Updates refused (malformed, non-finite, out of bounds).", true, () => peer.Stats.RejectedUpdates);
        yield return new("round_wait_seconds_total", "Time spent waiting for partners.", true, () => peer.Stats.WaitSeconds);
        yield return new("inner_step_seconds_total", "Time spent in inner steps after the warm-up (utilisation = this / training_seconds_total).", true, () => peer.Stats.InnerStepTime.TotalSeconds);
        yield return new("training_seconds_total", "Wall time of the outer-round phase so far.", true, () => peer.Stats.TrainingTime.TotalSeconds);
        yield return new("connections", "Open peer connections.", false, () => host.ConnectedPeers.Count);
        yield return new("checkpoint_round", "Round of the newest checkpoint on disk (-1: none yet).", false, () => _checkpoints?.Round ?? -1);
        yield return new("checkpoint_failures_total", "Checkpoint saves that failed (full disk, read-only, non-finite state).", true, () => _checkpoints?.Failures ?? 0);
        yield return new("checkpoint_failing", "1 while the last checkpoint save failed (retried every round), else 0.", false, () => _checkpoints?.Failing == true ? 1 : 0);
        yield return new("divergences_total", "Times training went non-finite and was rolled back.", true, () => _divergences);
        yield return new("joiners_serving", "Joiners this node is sending training state to now.", false, () => _serving?.Active.Count ?? 0);
        yield return new("state_bytes_served_total", "Bytes of training state served to joiners.", true, () => peer.Stats.StateBytesServed);
        yield return new("process_resident_bytes", "Resident set size of the daemon.", false, () => process().ResidentBytes);
        yield return new("managed_heap_bytes", "Managed heap in use (GC.GetTotalMemory).", false, () => process().ManagedHeapBytes);
        yield return new("gc_committed_bytes", "Memory the GC has committed (heap plus its free space); resident minus this is native.", false, () => process().GcCommittedBytes);
        yield return new("live_tensors", "TorchSharp tensors alive (created, not yet disposed).", false, () => process().LiveTensors);
        yield return new("open_files", "Open file handles, sockets included (/proc/self/fd).", false, () => process().OpenFiles);
        yield return new("threads", "Threads of the daemon process.", false, () => process().Threads);
    }
}
