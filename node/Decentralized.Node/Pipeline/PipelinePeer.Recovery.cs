using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Pipeline;

public sealed partial class PipelinePeer
{
    /// <summary>
    /// Takes up the configured stage, or the one with the fewest replicas once this peer's view of the swarm has settled.
    /// A failed build (a neighbour not heard from yet, a weight fetch that timed out) is retried with a fresh choice:
    /// giving up here would leave a process that stays connected but serves nothing.
    /// </summary>
    private async Task JoinAsync(CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            int stage = _options.Stage ?? await ChooseStageAsync(ct);
            try
            {
                await TakeStageAsync(stage, previous: null, ct);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _log.LogWarning("taking stage {Stage} failed (attempt {Attempt}): {Reason}; retrying", stage, attempt, e.Message);
                await Task.Delay(_options.HeartbeatInterval * 2, _time, ct);
            }
        }
    }

    /// <summary>
    /// The stage with the fewest live replicas, decided once the view has settled: at least four heartbeats, a bootstrap
    /// peer (if any was given) heard from, and no change in the live set for a peer timeout plus a heartbeat (a peer
    /// learned from gossip is greeted at the next heartbeat and that greeting ends within a peer timeout). Deciding
    /// earlier, a joiner that had heard only its bootstrap peer would take an empty-looking stage fresh from the seed,
    /// or fail to find the neighbours a CheckFree rebuild needs. Bounded by ten peer timeouts; then the view at hand
    /// decides (a swarm whose bootstrap peers never answer is started alone).
    /// </summary>
    private async Task<int> ChooseStageAsync(CancellationToken ct)
    {
        var started = _time.GetUtcNow();
        var changed = started;
        var seen = new HashSet<PeerId>();
        for (int beat = 1; ; beat++)
        {
            await Task.Delay(_options.HeartbeatInterval, _time, ct);
            var now = _time.GetUtcNow();
            var live = _directory.Live();
            if (!seen.SetEquals(live.Select(m => m.Peer)))
            {
                seen = live.Select(m => m.Peer).ToHashSet();
                changed = now;
            }
            bool heardBootstrap = _bootstraps.IsEmpty || live.Any(m => _bootstraps.ContainsKey(m.Peer));
            bool settled = beat >= 4 && heardBootstrap && now - changed >= _options.PeerTimeout + _options.HeartbeatInterval;
            if (settled || now - started >= _options.PeerTimeout * 10) break;
        }
        var replicas = new int[_options.StageCount];
        foreach (var m in _directory.Live()) if (m.Stage >= 0) replicas[m.Stage]++;
        int stage = StageAssignment.ForJoiner(replicas);
        _log.LogInformation("replicas per stage {Replicas}: joining stage {Stage}", string.Join(" ", replicas), stage);
        return stage;
    }

    /// <summary>Each heartbeat: if a stage has no live replica and this peer is the one chosen to move, rebuild it.</summary>
    private async Task MaintainAsync(CancellationToken ct)
    {
        var worker = _worker;
        if (worker is null || Interlocked.CompareExchange(ref _recovering, 1, 0) != 0) return;
        try
        {
            _directory.NoteOwnStage(worker.Stage);
            if (worker.BackupDuty(_options.StageCount) is { } duty && !worker.Holds(duty)) await RefreshBackupAsync(worker, duty, ct);
            if (StageAssignment.MoveFor(LocalPeer.ToString(), StageView(), _options.StageCount, _directory.WasLost) is int empty)
            {
                _log.LogWarning("stage {Stage} has no live replica: moving there from stage {From}", empty, worker.Stage);
                await TakeStageAsync(empty, worker.Stage, ct);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested) { _log.LogWarning("stage maintenance failed: {Reason}", e.Message); }
        finally { Volatile.Write(ref _recovering, 0); }
    }

    /// <summary>
    /// Builds a worker for <paramref name="stage"/>: copied from a live replica if there is one; otherwise, if the swarm has
    /// trained, rebuilt with CheckFree (intermediate stage) or CheckFree+ (first or last); else fresh from the seed.
    /// </summary>
    private async Task TakeStageAsync(int stage, int? previous, CancellationToken ct)
    {
        var (worker, recovery) = await BuildStageAsync(stage, previous, ct);
        var old = _worker;
        _worker = worker;
        old?.Dispose();
        _log.LogInformation("serving stage {Stage} ({Method}, round {Round})", stage, recovery.Method, worker.Round);
        StageTaken?.Invoke(this, recovery);
    }

    private async Task<(StageWorker, StageRecovery)> BuildStageAsync(int stage, int? previous, CancellationToken ct)
    {
        int last = _options.StageCount - 1;
        var live = _directory.Live();
        if (live.Any(m => m.Stage == stage))
        {
            var blocks = await FetchAsync(stage, WeightPart.Blocks, null, ct);
            var own = stage == 0 ? WeightPart.Embedding : stage == last ? WeightPart.Head : (WeightPart?)null;
            var extra = own is { } part ? await FetchAsync(stage, part, null, ct) : null;
            if (blocks is { } b && (own is null || extra is not null))
            {
                var parts = new List<(WeightPart, float[])> { (WeightPart.Blocks, b.Values) };
                if (own is { } ownPart && extra is { } e) parts.Add((ownPart, e.Values));
                return (Build(stage, 1.0, b.Round, [.. parts]), new StageRecovery(stage, StageRecoveryMethod.CopiedReplica, previous, 0, 0, b.Round));
            }
        }
        bool trained = live.Any(m => m.Steps > 0);
        if (!trained) return (NewWorker(stage, 1.0, null), new StageRecovery(stage, StageRecoveryMethod.Initial, previous, 0, 0, 0));
        if (stage > 0 && stage < last) return await CheckFreeAsync(stage, previous, ct);
        return await CopyNeighbourAsync(stage, previous, ct);
    }

    /// <summary>CheckFree: W_s ← (ω_{s−1}W_{s−1} + ω_{s+1}W_{s+1}) / (ω_{s−1} + ω_{s+1}), a fresh AdamW and the lr scaled by 1.1.</summary>
    private async Task<(StageWorker, StageRecovery)> CheckFreeAsync(int stage, int? previous, CancellationToken ct)
    {
        var before = await FetchAsync(stage - 1, WeightPart.Blocks, null, ct)
            ?? throw new InvalidOperationException($"no live replica of stage {stage - 1} to rebuild stage {stage} from");
        var after = await FetchAsync(stage + 1, WeightPart.Blocks, null, ct)
            ?? throw new InvalidOperationException($"no live replica of stage {stage + 1} to rebuild stage {stage} from");
        var rebuilt = CheckFreeRecovery.Rebuild(before.Values, before.GradNormWeight, after.Values, after.GradNormWeight);
        long round = Math.Max(before.Round, after.Round);
        _log.LogWarning("CheckFree: rebuilt stage {Stage} from stages {Before} (ω {W1:G4}) and {After} (ω {W2:G4})",
            stage, stage - 1, before.GradNormWeight, stage + 1, after.GradNormWeight);
        return (Build(stage, _options.RecoveryLrScale, round, (WeightPart.Blocks, rebuilt)),
            new StageRecovery(stage, StageRecoveryMethod.CheckFreeAverage, previous, before.GradNormWeight, after.GradNormWeight, round));
    }

    /// <summary>First or last stage: copy the neighbour's blocks (trained to stand in under CheckFree+) and its exact copy of the embedding or head.</summary>
    private async Task<(StageWorker, StageRecovery)> CopyNeighbourAsync(int stage, int? previous, CancellationToken ct)
    {
        bool first = stage == 0;
        int neighbour = first ? 1 : stage - 1;
        var backupPart = first ? WeightPart.EmbeddingBackup : WeightPart.HeadBackup;
        var blocks = await FetchAsync(neighbour, WeightPart.Blocks, null, ct)
            ?? throw new InvalidOperationException($"no live replica of stage {neighbour} to rebuild stage {stage} from");
        var backup = await FetchAsync(neighbour, backupPart, null, ct);
        var ownPart = first ? WeightPart.Embedding : WeightPart.Head;
        var method = backup is null ? StageRecoveryMethod.NeighbourCopyDegraded
            : _options.CheckFreePlus ? StageRecoveryMethod.CheckFreePlusCopy : StageRecoveryMethod.NeighbourCopy;
        _log.LogWarning("{Method}: rebuilt stage {Stage} from stage {Neighbour}", method, stage, neighbour);
        var worker = backup is { } copy
            ? Build(stage, _options.RecoveryLrScale, blocks.Round, (WeightPart.Blocks, blocks.Values), (ownPart, copy.Values))
            : Build(stage, _options.RecoveryLrScale, blocks.Round, (WeightPart.Blocks, blocks.Values));
        return (worker, new StageRecovery(stage, method, previous, blocks.GradNormWeight, 0, blocks.Round));
    }

    private StageWorker Build(int stage, double lrScale, long round, params (WeightPart Part, float[] Values)[] parts)
    {
        var worker = NewWorker(stage, lrScale, w => { foreach (var (part, values) in parts) w.Import(part, values); });
        worker.Round = round;
        var live = _directory.Live();
        worker.SetSteps(live.Count == 0 ? round * _options.InnerStepsPerRound : live.Max(m => m.Steps));
        return worker;
    }

    private StageWorker NewWorker(int stage, double lrScale, Action<StageWorker>? initialise) =>
        new(_options, stage, lrScale, initialise, LocalPeer.ToString(), _time);

    /// <summary>Asks live replicas of <paramref name="stage"/> (this peer first if it serves it) for a weight part; null if none answers.</summary>
    private async Task<FetchedPart?> FetchAsync(int stage, WeightPart part, long? expected, CancellationToken ct)
    {
        long values = expected ?? PartValuesOf(part);
        if (_worker is { } own && own.Stage == stage && own.Export(part) is { } local)
            return new FetchedPart(local, own.GradNormWeight, own.Round);
        foreach (var member in _directory.LiveOf(stage))
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_options.HopTimeout);
                await using var stream = await _network.OpenStreamAsync(member.Peer, PipelineProtocols.Weights, timeout.Token);
                await PipelineWire.WriteAsync(stream, new WeightsRequest(stage, part), timeout.Token);
                var response = await PipelineWire.ReadAsync<WeightsResponse>(stream, _options.ControlBytesMax, timeout.Token);
                if (!response.Ok) throw new HopRefusedException(response.Error ?? "refused");
                if (response.Values != values)
                    throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"{part} of {response.Values} values, expected {values}");
                var floats = PipelineWire.Floats(await PipelineWire.ReadPayloadAsync(stream, values * 4, timeout.Token));
                double omega = double.IsFinite(response.GradNormWeight) && response.GradNormWeight > 0 ? response.GradNormWeight : CheckFreeRecovery.NormEpsilon;
                return new FetchedPart(floats, omega, Math.Max(0, response.Round));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _log.LogDebug("fetching {Part} of stage {Stage} from {Peer} failed: {Reason}", part, stage, member.Peer, e.Message);
            }
        }
        return null;
    }

    private long PartValuesOf(WeightPart part)
    {
        var m = _options.Model;
        return part switch
        {
            WeightPart.Blocks => BlockValues(),
            WeightPart.Embedding or WeightPart.EmbeddingBackup => (long)m.VocabSize * m.Dim,
            _ => (long)m.VocabSize * m.Dim + m.Dim,
        };
    }

    private long? _blockValues;

    private long BlockValues()
    {
        if (_blockValues is long known) return known;
        using var probe = new Model.ModelStage(_options.Model, 0, _options.StageCount, 0);
        _blockValues = probe.BlockParameters().Sum(p => p.numel());
        return _blockValues.Value;
    }

    private async Task ServeWeightsAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var request = await ReadWeightsRequestAsync(peer, stream, ct);
        if (request is null) return;
        var worker = _worker;
        float[]? values = worker is not null && worker.Stage == request.Stage && Enum.IsDefined(request.Part) ? worker.Export(request.Part) : null;
        if (values is null)
        {
            await PipelineWire.WriteAsync(stream, new WeightsResponse(false, $"not holding {request.Part} of stage {request.Stage}", 0, 0, 0), ct);
            return;
        }
        await PipelineWire.WriteAsync(stream, new WeightsResponse(true, null, values.LongLength, worker!.GradNormWeight, worker.Round), ct);
        await Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, PipelineWire.FloatBytes(values), ct);
    }

    private async Task<WeightsRequest?> ReadWeightsRequestAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        try { return await PipelineWire.ReadAsync<WeightsRequest>(stream, _options.ControlBytesMax, ct); }
        catch (PipelineProtocolException e)
        {
            _log.LogWarning("refused a weights request from {Peer}: {Reason}", peer, e.Message);
            return null;
        }
    }
}
