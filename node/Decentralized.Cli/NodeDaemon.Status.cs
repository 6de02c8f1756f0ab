using System.Text.Json;
using Decentralized.Node.Checkpoints;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

public sealed partial class NodeDaemon
{
    private readonly TrafficMeter _traffic = new();
    private readonly LossHistory _losses = new();
    private readonly LossHistory _validationLosses = new();
    private volatile RoundReport? _lastRound;
    private StateServingMonitor? _serving;
    private NodeProgress? _progress;
    private CheckpointStore? _checkpoints;
    private int _divergences;

    /// <summary>
    /// What <c>decentralized status</c>, the page and scripts read: the round, its members and who is awaited, per-peer
    /// traffic and measured throughput, joiners being served, the process's resources and the loss curve.
    /// </summary>
    public object Status(SwarmPeer peer, Libp2pHost host)
    {
        var now = TimeProvider.System.GetUtcNow();
        var awaited = peer.Stats.Awaited;
        var members = peer.Membership.LivePeers().Select(p => p.ToString()).ToArray();
        var suspended = peer.Stats.Suspended.Where(members.Contains).ToArray();   // a peer that left is no longer news
        var last = _lastRound;
        return new
        {
            peer_id = peer.LocalPeer.ToString(),
            round = peer.Round,
            step = peer.Trainer.Step,
            steps_in_round = peer.StepsInRound,
            inner_steps = peer.Options.InnerStepsPerRound,
            algorithm = peer.Options.Algorithm.ToString().ToLowerInvariant(),
            loss = Finite(peer.Stats.LastLoss),
            val_loss = Finite(peer.Stats.LastValidationLoss),
            awaited,
            suspended,
            // Verification: partners whose updates are scored but not applied, and what we think of each partner.
            excluded = peer.Stats.Excluded,
            scores = peer.Stats.Standings.Select(s => new
            {
                peer_id = s.Peer,
                mean = Finite(s.MeanScore),
                last = Finite(s.LastScore),
                scored = s.Scored,
                negatives_in_a_row = s.NegativesInARow,
                excluded = s.Excluded,
            }).ToArray(),
            scoring_seconds = peer.Stats.ScoringSeconds,
            members,
            membership = peer.Membership.Members.OrderBy(m => m.Peer.ToString(), StringComparer.Ordinal).Select(m => new
            {
                peer_id = m.Peer.ToString(),
                round = m.Round,
                step = m.Step,
                seen_seconds_ago = Math.Max(0, (now - m.LastSeen).TotalSeconds),
                awaited = awaited.Contains(m.Peer.ToString()),
                suspended = suspended.Contains(m.Peer.ToString()),
                excluded = peer.Stats.Excluded.Contains(m.Peer.ToString()),
            }).ToArray(),
            last_round = last is null ? null : new
            {
                round = last.Round,
                partners = last.Partners,
                received = last.Received,
                rejected = last.Rejected,
                wait_seconds = last.WaitSeconds,
                closed = last.ClosedBecause,
            },
            update_bytes_sent = peer.Stats.UpdateBytesSent,
            update_bytes_received = peer.Stats.UpdateBytesReceived,
            rejected_updates = peer.Stats.RejectedUpdates,
            rounds_completed = peer.Stats.RoundsCompleted,
            wait_seconds = peer.Stats.WaitSeconds,
            utilisation = Finite(peer.Stats.Utilisation),
            listen_addrs = host.ListenAddresses.Select(a => a.ToString()).ToArray(),
            reachability = host.Reachability.ToString().ToLowerInvariant(),
            relays = host.RelayReservations.Select(r => r.ToString()).ToArray(),
            relay_circuits = host.ActiveCircuits,
            connections = Connections(peer, host),
            traffic_by_peer = TrafficByPeer(host),
            // How this peer itself joined: the round, the chunks each donor served, failed donors, seconds.
            state_sync = peer.LastStateSync is { } sync ? new
            {
                round = sync.Round,
                chunks_by_donor = sync.ChunksByDonor,
                failed_donors = sync.FailedDonors,
                seconds = sync.Seconds,
            } : null,
            joiners = new
            {
                serving = (_serving?.Active ?? []).Select(t => Joiner(t, now)).ToArray(),
                served = (_serving?.Finished ?? []).Select(t => Joiner(t, now)).ToArray(),
                state_bytes_served = peer.Stats.StateBytesServed,
            },
            // Whether what was trained is safe on disk: the newest round saved, the files kept, and a failing save's reason.
            checkpoint = _checkpoints is { } c ? new
            {
                path = c.Path,
                round = c.Round,
                files = c.Files,
                failures = c.Failures,
                last_error = c.LastError,
                divergences = _divergences,
            } : null,
            process = Resources(),
            loss_curve = _losses.Points().Select(p => new[] { p.Step, p.Loss }).ToArray(),
            val_curve = _validationLosses.Points().Select(p => new[] { p.Step, p.Loss }).ToArray(),
        };
    }

    /// <summary>Per connected peer: direct or relayed (relayed only while no direct connection exists), traffic, measured throughput, RTT.</summary>
    private object[] Connections(SwarmPeer peer, Libp2pHost host) =>
        host.ConnectedPeers.Select(p => (Peer: p, Stats: host.GetStats(p))).Where(c => c.Stats is not null).Select(c =>
        {
            var (inRate, outRate) = _traffic.Rate(c.Peer.ToString());
            return (object)new
            {
                peer_id = c.Peer.ToString(),
                relayed = c.Stats!.IsRelayed,
                bytes_in = c.Stats.BytesReceived,
                bytes_out = c.Stats.BytesSent,
                relayed_bytes = c.Stats.RelayedBytes,
                in_bytes_per_second = inRate,
                out_bytes_per_second = outRate,
                rtt_ms = c.Stats.RoundTripTime?.TotalMilliseconds,
                round = peer.Membership.Get(c.Peer)?.Round,
            };
        }).ToArray();

    private static object Joiner(StateServingMonitor.Transfer t, DateTimeOffset now) => new
    {
        peer_id = t.Peer,
        protocol = t.Protocol,
        bytes = t.Bytes,
        seconds = ((t.Finished ?? now) - t.Started).TotalSeconds,
        finished_seconds_ago = t.Finished is { } f ? (now - f).TotalSeconds : (double?)null,
        failed = t.Failed,
    };

    private static object Resources()
    {
        var p = ProcessSample.Read();
        return new { resident_bytes = p.ResidentBytes, managed_heap_bytes = p.ManagedHeapBytes, gc_committed_bytes = p.GcCommittedBytes, live_tensors = p.LiveTensors, open_files = p.OpenFiles, threads = p.Threads };
    }

    /// <summary>Bytes in and out since the node started, over every connection it has had (closed ones included).</summary>
    public static (long In, long Out) Traffic(Libp2pHost host)
    {
        var peers = host.TrafficByPeer;
        return (peers.Sum(p => p.BytesReceived), peers.Sum(p => p.BytesSent));
    }

    /// <summary>Per peer this node has exchanged bytes with, open or since closed: what the run cost, partner by partner.</summary>
    private static object[] TrafficByPeer(Libp2pHost host) =>
        host.TrafficByPeer.OrderBy(p => p.Peer.ToString(), StringComparer.Ordinal).Select(p => (object)new
        {
            peer_id = p.Peer.ToString(),
            connected = p.Connected,
            bytes_in = p.BytesReceived,
            bytes_out = p.BytesSent,
            direct_bytes = p.DirectBytes,
            relayed_bytes = p.RelayedBytes,
        }).ToArray();

    /// <summary>Samples every connection's counters once a second for <see cref="TrafficMeter"/> until the daemon stops.</summary>
    private async Task MeterTrafficAsync(Libp2pHost host, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                var counters = host.ConnectedPeers.Select(p => (Peer: p, Stats: host.GetStats(p))).Where(c => c.Stats is not null)
                    .Select(c => (c.Peer.ToString(), c.Stats!.BytesReceived, c.Stats.BytesSent)).ToArray();
                _traffic.Sample(_clock.Elapsed, counters);
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) { }
    }

    internal static double? Finite(double v) => double.IsFinite(v) ? v : null;

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
            split_unit = _settings.Data.SplitUnit.ToString().ToLowerInvariant(),
            validation_seen_fraction = _validationOverlap?.SeenFraction,
            validation_dropped_bytes = _validationOverlap?.DroppedLineBytes,
            bytes_in = bytesIn,
            bytes_out = bytesOut,
            update_bytes_sent = peer.Stats.UpdateBytesSent,
            update_bytes_received = peer.Stats.UpdateBytesReceived,
            rejected_updates = peer.Stats.RejectedUpdates,
            excluded = peer.Stats.Excluded,
            misbehave = _settings.Misbehave,
            wait_seconds = peer.Stats.WaitSeconds,
            // Measured around every inner step of the outer-round phase (SwarmStats.Utilisation), not modelled.
            utilisation = Finite(peer.Stats.Utilisation),
            inner_step_seconds = peer.Stats.InnerStepTime.TotalSeconds,
            training_seconds = peer.Stats.TrainingTime.TotalSeconds,
            link = _settings.Link?.ToString(),
            tokens = _progress?.Tokens ?? 0,
            tokens_per_second = _progress is null ? 0 : Math.Round(_progress.TokensPerSecond),
            reachability = host.Reachability.ToString().ToLowerInvariant(),
            bytes_direct_total = host.TrafficTotals.Direct,
            bytes_relayed_total = host.TrafficTotals.Relayed,
            connections = Connections(peer, host),
            traffic_by_peer = TrafficByPeer(host),
            curve,
        };
        try { AtomicFile.WriteAllText(_settings.Report, JsonSerializer.Serialize(report, JsonOutput.Options)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk must not turn a clean stop into a failure: the checkpoint matters, the summary is a convenience.
            _log.LogWarning("report {Path} not written: {Reason}", _settings.Report, e.Message);
        }
    }
}
