using Decentralized.Node.Rounds;
using System.Diagnostics;
using System.Text.Json;
using Decentralized.Node.Checkpoints;
using Decentralized.Node.Export;
using Decentralized.Node.Model;
using Decentralized.Node.Runtime;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized node run</c>: the long-lived daemon. Wires the real network (libp2p over TCP with the swarm
/// gate), the trainer, checkpoints, the status endpoint and the progress line around a <see cref="SwarmPeer"/>.
/// Machine-readable events go to stdout as JSON lines; logs for people go to stderr.
/// </summary>
public sealed partial class NodeDaemon
{
    private readonly NodeSettings _settings;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<object> _curve = new();
    private double _firstValidationLoss = double.NaN;
    private Decentralized.Node.Data.ValidationOverlap? _validationOverlap;

    public NodeDaemon(NodeSettings settings, ILoggerFactory logs)
    {
        _settings = settings;
        _logs = logs;
        _log = logs.CreateLogger("node");
    }

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var s = _settings;
        s.Validate();
        var bootstrap = s.Bootstrap.Select(Multiaddr.Parse).ToArray();
        var listen = s.Listen.Select(Multiaddr.Parse).ToArray();
        var announce = ParseAnnounce(s.Announce);
        var device = DeviceSelector.Resolve(s.Device);
        using var dataLock = ProcessLock.Acquire(Path.Combine(s.DataDir, "node.lock"), $"data dir {s.DataDir} (--data-dir)");
        using var keyLock = ProcessLock.Acquire(s.KeyFile + ".lock", $"identity key {s.KeyFile} (--key-file)");
        var key = LoadIdentityKey(s.KeyFile, _log);
        if (s.Swarm.SwarmKey.Length == 0)
            _log.LogWarning("open swarm: no --swarm-key, so anyone who reaches this node can join and send updates; create a key with `decentralized keygen --swarm-key swarm.key` and start every member with --swarm-key @swarm.key");
        var data = TrainingData.Open(s.Data, line => _log.LogInformation("{Line}", line));
        _validationOverlap = data.Overlap;
        var model = s.Model with { VocabSize = data.Tokenizer.VocabSize };
        int shard = s.ShardIndex ?? ShardOf(key.PeerId, s.ShardCount);
        var source = data.ForReplica(s.Swarm.SwarmSeed, shard, s.ShardCount, s.Inner.MicroBatchSize, s.Inner.SequenceLength);
        var validation = data.Validation(s.Inner.MicroBatchSize, s.Inner.SequenceLength, s.EvalBatches);

        // Every member starts from the same weights (seeded by the swarm seed), as DiLoCo and NoLoCo require.
        _log.LogInformation("model: {Estimate}", MemoryEstimate.Describe(model, s.Inner, 1, outerState: true));
        var initial = s.InitFrom is null ? null : InitialWeights.Load(s.InitFrom, model);
        var stage = new ModelStage(model, seed: s.Swarm.SwarmSeed, init: s.Init);
        initial?.ApplyTo(stage);
        if (initial is not null) _log.LogInformation("initial weights from {Dir} (hash {Hash})", initial.Directory, initial.Hash);
        using var trainer = new InnerTrainer(stage, s.Inner, device);
        var identity = IdentityOf(s, data.Tokenizer.VocabSize, initial);
        var gate = new ConnectionHandshake(identity, s.Swarm.SwarmKey, key.PeerId, s.Swarm.ControlMessageBytesMax, _logs.CreateLogger("gate"));
        await using var host = new Libp2pHost(HostOptions(s, key, gate, identity, listen, announce, _logs));
        try { await host.StartAsync(stop); }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            throw new IOException($"--listen {string.Join(" ", s.Listen)}: the port is already in use (another node?); choose another, e.g. --listen /ip4/0.0.0.0/tcp/4002");
        }
        IUpdateCodec codec = UpdateCodecs.Create(s.Compress, trainer.Flat);
        IUpdateCodec weightsCodec = UpdateCodecs.Create(s.WeightsCompress, trainer.Flat);
        var misbehave = s.Misbehave is null ? null : new Misbehaviour(s.Misbehave);
        // Both chains a payload can travel through: NoLoCo over a lossy chain sends anchored weights through the second.
        if (misbehave is not null) (codec, weightsCodec) = (misbehave.Wrap(codec), misbehave.Wrap(weightsCodec));
        if (misbehave is not null) source = misbehave.Wrap(source, data.Tokenizer.VocabSize, shard);
        // The swarm sees the host through a monitor that times the state transfers it serves (for status and metrics).
        _serving = new StateServingMonitor(host, TimeProvider.System);
        await using var peer = new SwarmPeer(s.Swarm, _serving, TimeProvider.System, new Random((int)(s.Swarm.SwarmSeed ^ shard)), trainer, source, codec,
            s.DiLoCo, s.NoLoCo, _logs.CreateLogger("swarm"), weightsCodec, s.SparseLoCo)
        {
            ConfigHash = identity.ConfigHash,
            Misbehave = misbehave,
            // One validation batch past those the reported loss uses: never trained on, never reported.
            ScoringBatches = s.Swarm.Verify is null ? null : data.HeldOut(s.Inner.MicroBatchSize, s.Inner.SequenceLength, s.EvalBatches, 1),
        };

        var checkpoints = _checkpoints = new CheckpointStore(s.DataDir, _logs.CreateLogger("checkpoint"));
        checkpoints.RemoveStaleTemporaries();
        if (checkpoints.LoadNewestGood(peer) is { } resumed)
            _log.LogInformation("resumed from {Checkpoint} at round {Round}", resumed, peer.Round);
        await using var http = s.Http is null ? null
            : await HttpStatusServer.StartAsync(s.Http, () => JsonSerializer.Serialize(Status(peer, host), JsonOutput.Options), CreateMetrics(peer, host), stop);
        Emit(new { @event = "listening", peer_id = key.PeerId.ToString(), addrs = host.ListenAddresses.Select(a => a.ToString()), http = http?.Endpoint.ToString(), config_hash = identity.ConfigHash });
        _log.LogInformation("peer {Peer} listening on {Addresses}; swarm '{Swarm}' config {Config}", key.PeerId, string.Join(" ", host.ListenAddresses), s.Swarm.SwarmId, identity.ConfigHash);

        await peer.JoinAsync(bootstrap, fetchState: true, stop);
        _ = ReportReachabilityAsync(host, bootstrap.Length, stop);
        var progress = _progress = new NodeProgress(peer, host, s.Inner.MicroBatchSize * s.Inner.SequenceLength * s.Inner.AccumulationSteps, _log);
        peer.OnStep = (step, loss) => { _losses.Add(step, loss); progress.MaybePrint(); };
        using var stopMeter = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var meter = MeterTrafficAsync(host, stopMeter.Token);
        void ExportModel() => Export(peer, trainer, data.Tokenizer.Id);
        peer.OnRound = report => AfterRound(peer, trainer, validation, checkpoints, report, ExportModel);
        if (s.Swarm.RoundsMax > 0 && peer.Round >= s.Swarm.RoundsMax)
        {
            // A finished data dir started again: nothing to train, but the report carries the model's loss, not NaN.
            _log.LogWarning("already at swarm round {Round}, the --rounds {Rounds} to stop at: nothing left to train; raise --rounds to go on", peer.Round, s.Swarm.RoundsMax);
            peer.Stats.LastValidationLoss = trainer.Evaluate(validation);
            if (double.IsNaN(_firstValidationLoss)) _firstValidationLoss = peer.Stats.LastValidationLoss;
        }
        int exitCode = 0;
        try { exitCode = await TrainAsync(peer, checkpoints, stop); }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped mid-round: the round's exchange is abandoned; what was trained is saved below.
        }
        finally
        {
            stopMeter.Cancel();
            await meter;
            // SIGINT/SIGTERM land here after the current step: keep what was trained (a diverged state is never written,
            // and a run that gave up after rollbacks holds exactly its last checkpoint already).
            if (exitCode == 0) checkpoints.TrySave(peer);
            if (exitCode == 0 && s.ExportEveryRounds > 0) ExportModel();
            WriteReport(peer, host);
            Emit(new { @event = "exit", peer_id = key.PeerId.ToString(), round = peer.Round, val_loss = peer.Stats.LastValidationLoss });
        }
        return exitCode;
    }

    /// <summary>Rollbacks after a divergence before the daemon gives up: the same settings diverging again and again need a person.</summary>
    private const int RollbacksMax = 3;

    /// <summary>
    /// Trains until stopped. A divergence (NaN or ±Inf in the loss or the state) is reported in one line, the last good
    /// checkpoint is restored and training goes on; after <see cref="RollbacksMax"/> of them, or with nothing to restore,
    /// the daemon stops with exit code 3 and says what to change.
    /// </summary>
    private async Task<int> TrainAsync(SwarmPeer peer, CheckpointStore checkpoints, CancellationToken stop)
    {
        for (int rollbacks = 0; ; rollbacks++)
        {
            try
            {
                await peer.RunAsync(stop);
                return 0;
            }
            catch (TrainingDivergedException e)
            {
                _divergences++;
                _log.LogError("{Reason}", e.Message);
                var advice = $"lower --lr (now {_settings.Inner.LearningRate:G3}) or raise --warmup (now {_settings.Inner.WarmupSteps})"
                    + (_settings.Swarm.Algorithm == Algorithm.DiLoCo ? $", or lower --outer-lr (now {_settings.DiLoCo.LearningRate:G3})" : "");
                string? restored = null;
                if (rollbacks < RollbacksMax)
                {
                    try { restored = checkpoints.LoadNewestGood(peer); }
                    catch (CheckpointException c) { _log.LogError("cannot roll back: {Reason}", c.Message); }
                }
                if (restored is null)
                {
                    _log.LogError("giving up after {Count} divergence(s); {Kept}. To continue: {Advice}, then restart", rollbacks + 1,
                        checkpoints.Files.Count > 0 ? "the last good checkpoint is kept as it was" : "there was no checkpoint to roll back to", advice);
                    return 3;
                }
                _log.LogWarning("rolled back to {Checkpoint} (round {Round}, inner step {Step}); if this repeats: {Advice}", restored, peer.Round, peer.Trainer.Step, advice);
            }
        }
    }

    private void AfterRound(SwarmPeer peer, InnerTrainer trainer, IReadOnlyList<long[]> validation, CheckpointStore checkpoints, RoundReport report, Action exportModel)
    {
        double val = trainer.Evaluate(validation);
        peer.Stats.LastValidationLoss = val;
        if (double.IsNaN(_firstValidationLoss)) _firstValidationLoss = val;
        var point = new { round = peer.Round, step = trainer.Step, val_loss = val, train_loss = peer.Stats.LastLoss, seconds = _clock.Elapsed.TotalSeconds,
            partners = report.Partners, received = report.Received, rejected = report.Rejected, wait_seconds = report.WaitSeconds, closed = report.ClosedBecause };
        lock (_curve) _curve.Add(point);
        _lastRound = report;
        _validationLosses.Add(trainer.Step, val);   // on the training curve's x axis: one chart, one scale
        Emit(new { @event = "round", peer_id = peer.LocalPeer.ToString(), point.round, point.step, point.val_loss, point.train_loss, point.partners, point.received, point.rejected, point.wait_seconds, point.closed });
        // A failed save (full disk) is retried after every round until one succeeds, whatever the interval.
        if (checkpoints.Failing || (_settings.CheckpointEveryRounds > 0 && peer.Round % _settings.CheckpointEveryRounds == 0)) checkpoints.TrySave(peer);
        if (_settings.ExportEveryRounds > 0 && peer.Round % _settings.ExportEveryRounds == 0) exportModel();
        NativeHeap.Trim();   // a round frees its update buffers and codec scratch: give those pages back (days-long runs)
    }

    /// <summary>Directory inside the data directory where --export-every-rounds writes the model (HF Llama layout).</summary>
    public const string ExportDirectoryName = "model";

    // The weights the node trains (θ), as `decentralized export` would write them; replaced whole each time.
    private void Export(SwarmPeer peer, InnerTrainer trainer, string tokenizerId)
    {
        var dir = Path.Combine(_settings.DataDir, ExportDirectoryName);
        HfLlamaDirectory.Write(trainer.Model, tokenizerId, dir);
        _log.LogInformation("exported the model at round {Round} to {Dir}", peer.Round, dir);
        Emit(new { @event = "export", peer_id = peer.LocalPeer.ToString(), round = peer.Round, dir });
    }

    /// <summary>
    /// The data shard of a peer, from a hash of its id. Stable across restarts (string.GetHashCode is randomised per
    /// process): the checkpointed data position must match.
    /// </summary>
    internal static int ShardOf(Decentralized.Protocol.Identity.PeerId peer, int shardCount) =>
        (int)(BitConverter.ToUInt32(System.Security.Cryptography.SHA256.HashData(peer.ToByteArray())) % (uint)shardCount);

    private static readonly object EmitLock = new();

    /// <summary>One JSON event line on stdout (the pipeline daemon writes its events through this too, so lines never interleave).</summary>
    internal static void Emit(object value)
    {
        var line = JsonSerializer.Serialize(value, JsonOutput.Options);
        lock (EmitLock) { Console.Out.WriteLine(line); Console.Out.Flush(); }
    }
}
