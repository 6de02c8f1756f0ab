using System.Diagnostics;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Runtime;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized pipeline run</c>: one <see cref="PipelinePeer"/> on the real network. It uses the same libp2p host and
/// connection gate as <c>node run</c> (so a peer of another version, swarm, key or pipeline configuration is refused with
/// one line before any stage traffic), dials the bootstrap peers, and reports on stdout as JSON lines:
/// <c>listening</c>, <c>stage</c> (each time this peer takes up a stage, and how), <c>progress</c> (periodic) and
/// <c>exit</c>. Logs for people go to stderr.
/// </summary>
public sealed class PipelineDaemon(PipelineSettings settings, ILoggerFactory logs)
{
    private readonly ILogger _log = logs.CreateLogger("pipeline-daemon");
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var s = settings.Validate();
        var options = PipelineDefaults.Options(s.Stages, s.LayersPerStage, s.CheckFreePlus, PipelineDefaults.ParseCodec(s.Codec), s.Seed, s.Heartbeat, s.PeerTimeout, s.Rounds, s.InnerSteps);
        if (s.Stage is int configured && (configured < 0 || configured >= s.Stages))
            throw new ArgumentException($"--stage must be between 0 and {s.Stages - 1} for --stages {s.Stages}");
        options = options with { Stage = s.Stage };
        var listen = s.Listen.Select(a => ParseAddress(a, "--listen")).ToArray();
        var bootstrap = s.Bootstrap.Select(ParseBootstrap).ToArray();
        CheckDevice(s.Device);
        var key = NodeDaemon.LoadIdentityKey(s.KeyFile, _log);
        var data = TrainingData.Open(new TrainingDataOptions(), line => _log.LogInformation("{Line}", line));
        // Each stage-0 peer drives microbatches from its own shard, picked as node run picks it (hash of the peer id).
        int shard = NodeDaemon.ShardOf(key.PeerId, s.ShardCount);
        var source = data.ForReplica(options.Seed, shard, s.ShardCount, options.Inner.MicroBatchSize, options.Inner.SequenceLength);

        var identity = IdentityOf(options, s.SwarmId);
        var gate = new ConnectionHandshake(identity, s.SwarmKey, key.PeerId, s.GateMessageBytesMax, logs.CreateLogger("gate"));
        await using var host = new Libp2pHost(NodeDaemon.HostOptions(new RelaySettings(), key, gate, identity, listen, [], logs));
        await host.StartAsync(stop);
        await using var peer = new PipelinePeer(host, TimeProvider.System, options, source, logs.CreateLogger("pipeline"));
        peer.StageTaken += (_, r) => NodeDaemon.Emit(StageEvent(r));
        NodeDaemon.Emit(new { @event = "listening", peer_id = key.PeerId.ToString(), addrs = host.ListenAddresses.Select(a => a.ToString()), config_hash = identity.ConfigHash, shard });
        _log.LogInformation("peer {Peer} listening on {Addresses}; swarm '{Swarm}', {Stages} stages, config {Config}",
            key.PeerId, string.Join(" ", host.ListenAddresses), s.SwarmId, s.Stages, identity.ConfigHash);

        using var run = CancellationTokenSource.CreateLinkedTokenSource(stop);
        if (s.Duration > TimeSpan.Zero) run.CancelAfter(s.Duration);
        try
        {
            await BootstrapAsync(host, bootstrap, run.Token);
            foreach (var address in bootstrap) peer.AddBootstrap(address);
            peer.Start();
            await ReportProgressAsync(peer, run.Token);
        }
        catch (OperationCanceledException) when (run.IsCancellationRequested)
        {
            // Stopped (signal or --seconds) while joining: nothing to save, the stage lives on in its other replicas.
        }
        finally
        {
            NodeDaemon.Emit(new { @event = "exit", peer_id = key.PeerId.ToString(), stage = peer.Stage, steps = peer.Steps, round = peer.Round,
                microbatches = peer.CompletedMicrobatches, dropped = peer.DroppedMicrobatches, outer_bytes_sent = peer.OuterBytesSent,
                outer_bytes_received = peer.OuterBytesReceived, refused_updates = peer.RefusedUpdates });
        }
        return 0;
    }

    /// <summary>
    /// What the gate compares: this build's version, the swarm id and everything the pipeline's peers must share (model
    /// shape, stages, microbatch shape, codec, CheckFree+, seed, H and the outer rounds' settings), so a mismatch is
    /// refused at connection time naming the options that differ instead of surfacing later as ignored hellos.
    /// </summary>
    public static SwarmIdentity IdentityOf(PipelineOptions options, string swarmId) =>
        SwarmIdentity.FromSettings(SwarmIdentity.SoftwareVersionOfThisBuild, swarmId,
            new Dictionary<string, string>(options.SharedSettings) { ["pipeline"] = "on" });

    /// <summary>Dials each bootstrap peer (three tries, growing patience: a peer training on every core may be slow to handshake); fails with the last reason if none lets us in.</summary>
    private async Task BootstrapAsync(Libp2pHost host, IReadOnlyList<Multiaddr> bootstrap, CancellationToken ct)
    {
        if (bootstrap.Count == 0) return;
        string? reason = null;
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            int reached = 0;
            foreach (var address in bootstrap)
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5 * attempt));
                    await host.DialAsync(address, timeout.Token);
                    reached++;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    reason = e.Message;
                    _log.LogWarning("bootstrap {Address} failed (attempt {Attempt} of 3): {Reason}", address, attempt, e.Message);
                }
            }
            if (reached > 0) return;
            await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
        }
        throw new SwarmProtocolException($"none of the {bootstrap.Count} bootstrap peers let us in; last reason: {reason}");
    }

    private async Task ReportProgressAsync(PipelinePeer peer, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(settings.ProgressInterval);
        while (await timer.WaitForNextTickAsync(ct))
        {
            NodeDaemon.Emit(ProgressEvent(peer));
            // Activations and gradients come and go in native buffers: give freed pages back (a daemon runs for days).
            NativeHeap.Trim();
        }
    }

    private object ProgressEvent(PipelinePeer peer)
    {
        int stage = peer.Stage;
        // Only a stage-0 peer drives microbatches, so only it has losses of its own to report.
        var recent = stage == 0 ? peer.Losses(settings.LossWindow) : [];
        double? loss = recent.Count > 0 ? recent.Average(p => p.Loss) : null;
        return new { @event = "progress", seconds = Math.Round(_clock.Elapsed.TotalSeconds, 1), stage, steps = peer.Steps, round = peer.Round,
            microbatches = peer.CompletedMicrobatches, dropped = peer.DroppedMicrobatches, loss, outer_bytes_sent = peer.OuterBytesSent,
            refused_updates = peer.RefusedUpdates };
    }

    private static object StageEvent(StageRecovery r) => new
    {
        @event = "stage", stage = r.Stage, method = r.Method.ToString(), previous_stage = r.PreviousStage,
        // CheckFree's ω of the neighbours (zero where the method does not weigh them).
        previous_weight = r.PreviousWeight, next_weight = r.NextWeight, round = r.Round,
    };

    private static Multiaddr ParseAddress(string text, string option) =>
        Multiaddr.TryParse(text, out var address) ? address : throw new ArgumentException($"{option} {text}: not a multiaddr (expected e.g. /ip4/0.0.0.0/tcp/4002)");

    private static Multiaddr ParseBootstrap(string text)
    {
        var address = ParseAddress(text, "--bootstrap");
        if (address.GetPeerId() is null) throw new ArgumentException($"--bootstrap {text}: needs the peer's id (/p2p/<id>), as printed in its listening event");
        return address;
    }

    /// <summary>The stage worker computes on the CPU; asking for CUDA explicitly is refused rather than silently ignored.</summary>
    private void CheckDevice(string device)
    {
        switch (device.Trim().ToLowerInvariant())
        {
            case "cpu": return;
            case "auto":
                if (DeviceSelector.Resolve("auto").type != TorchSharp.DeviceType.CPU) _log.LogInformation("a GPU is visible, but pipeline stages run on the CPU in this build");
                return;
            case "cuda": throw new ArgumentException("--device cuda: pipeline stages run on the CPU in this build; use --device cpu or auto");
            default: throw new ArgumentException($"--device must be cpu, cuda or auto, not '{device}'");
        }
    }
}
