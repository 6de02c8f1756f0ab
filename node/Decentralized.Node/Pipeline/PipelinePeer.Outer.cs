using Decentralized.Node.Rounds;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Pipeline;

public sealed partial class PipelinePeer
{
    /// <summary>Completed (and replaced) when the stage worker has taken the H steps of its next round.</summary>
    private TaskCompletionSource _roundDue = NewSignal();
    /// <summary>Completed (and replaced) when a partner's update is kept: the waiting round ticks its engine.</summary>
    private TaskCompletionSource _arrival = NewSignal();
    private long _outerBytesSent, _outerBytesReceived, _refusedUpdates, _partnersAwaited, _partnersUsed;

    /// <summary>Bytes of outer updates this peer sent and received (the engine's blobs; headers not counted).</summary>
    public long OuterBytesSent => Interlocked.Read(ref _outerBytesSent);
    public long OuterBytesReceived => Interlocked.Read(ref _outerBytesReceived);

    /// <summary>Over all finished rounds: partners the rounds waited for, and those whose update entered the step.</summary>
    public long PartnersAwaited => Interlocked.Read(ref _partnersAwaited);
    public long PartnersUsed => Interlocked.Read(ref _partnersUsed);

    /// <summary>Outer updates refused (malformed, oversized, the wrong stage or payload, or not complete in time).</summary>
    public long RefusedUpdates => Interlocked.Read(ref _refusedUpdates);

    /// <summary>Continuations run off the completing thread: a stream handler or a hop must not run a round inline.</summary>
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Raise(ref TaskCompletionSource signal) => Interlocked.Exchange(ref signal, NewSignal()).TrySetResult();

    private bool RoundDue(StageWorker worker) => worker.Steps >= (worker.Round + 1) * _options.InnerStepsPerRound;

    /// <summary>After each backward: wake the round loop once H more AdamW steps have been taken since the last round.</summary>
    private void AfterBackward(StageWorker worker)
    {
        if (RoundDue(worker)) Raise(ref _roundDue);
    }

    /// <summary>
    /// One outer round at a time for whichever stage this peer serves, started when its steps are due and awaited to
    /// its end. A round that fails (the peer moved to another stage mid-round) is logged; the stage trains on.
    /// </summary>
    private async Task OuterLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var due = Volatile.Read(ref _roundDue).Task;
            var worker = _worker;
            if (worker is null || !RoundDue(worker))
            {
                await due.WaitAsync(ct);
                continue;
            }
            try { await OuterRoundAsync(worker, ct); }
            catch (ObjectDisposedException) { }   // the worker was replaced (a move or a rebuild): its rounds are over
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _log.LogWarning("stage {Stage} outer round failed: {Reason}", worker.Stage, e.Message);
                await Task.Delay(_options.HeartbeatInterval, _time, ct);   // not a hot loop on a persistent failure
            }
        }
    }

    /// <summary>
    /// One round on the stage's <see cref="RoundEngine"/> among the live replicas of the stage: the engine groups them
    /// (NoLoCo, seeded per stage), encodes our update and decides when the exchange is over; this sends the blob, waits
    /// on arrivals and deadlines, applies, then refreshes this stage's CheckFree+ copy of the embedding or head.
    /// </summary>
    private async Task OuterRoundAsync(StageWorker worker, CancellationToken ct)
    {
        var outgoing = worker.BeginRound(LiveRounds(worker.Stage, out var peers));
        var header = new OuterMessage(worker.Stage, outgoing.Round, outgoing.Payload, outgoing.Blob.LongLength);
        var sends = Task.WhenAll(outgoing.Targets.Select(t => SendOuterAsync(peers[t], header, outgoing.Blob, ct)));
        await RoundWait.UntilReadyAsync(() => Tick(worker), () => Volatile.Read(ref _arrival).Task, _options.HeartbeatInterval, _time, ct);
        var (outcomes, skippedFrom) = worker.ApplyRound();
        await sends;   // each bounded by the round timeout
        if (skippedFrom is { } from)
            _log.LogInformation("stage {Stage} behind its replicas: skipped from round {From} to {Round}", worker.Stage, from, worker.Round);
        if (worker.BackupDuty(_options.StageCount) is { } duty) await RefreshBackupAsync(worker, duty, ct);
        foreach (var o in outcomes)
        {
            Interlocked.Add(ref _partnersAwaited, o.Partners.Count);
            Interlocked.Add(ref _partnersUsed, o.Used.Count);
            foreach (var (peer, reason) in o.Rejected)
                _log.LogWarning("stage {Stage} round {Round}: rejected {Peer}'s update: {Reason}", worker.Stage, o.Round, peer, reason);
            // A lone replica of its stage has nobody to average with: that is the normal case there, not news every round.
            _log.Log(o.Partners.Count == 0 ? LogLevel.Debug : LogLevel.Information,
                "stage {Stage} outer round {Round}: used {Used} of {Partners} partners ({Payload}, {Bytes} bytes each), closed: {Closed}",
                worker.Stage, o.Round, o.Used.Count, o.Partners.Count, outgoing.Payload, outgoing.Blob.Length, o.Closed);
        }
    }

    private TickResult Tick(StageWorker worker)
    {
        var tick = worker.TickRound(LiveRounds(worker.Stage, out _));
        foreach (var peer in tick.Suspended)
            _log.LogWarning("stage {Stage}: {Peer} missed {Misses} rounds in a row, left out of the pairing until it answers again",
                worker.Stage, peer, PartnerDeadlines.MissesToSuspend);
        return tick;
    }

    /// <summary>The live replicas of <paramref name="stage"/> (this peer not included) and the round each reports, by the name the engine knows them by.</summary>
    private Dictionary<string, long> LiveRounds(int stage, out Dictionary<string, PeerId> peers)
    {
        var live = _directory.LiveOf(stage);
        peers = live.ToDictionary(m => m.Peer.ToString(), m => m.Peer, StringComparer.Ordinal);
        return live.ToDictionary(m => m.Peer.ToString(), m => m.Round, StringComparer.Ordinal);
    }

    private async Task SendOuterAsync(PeerId peer, OuterMessage header, byte[] blob, CancellationToken ct)
    {
        try
        {
            using var deadline = new Deadline(_time, _options.Rounds.RoundTimeout, ct);
            await using var stream = await _network.OpenStreamAsync(peer, PipelineProtocols.Outer, deadline.Token);
            await PipelineWire.WriteAsync(stream, header, deadline.Token);
            await Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, blob, deadline.Token);
            Interlocked.Add(ref _outerBytesSent, blob.LongLength);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogDebug("outer update to {Peer} failed: {Reason}", peer, e.Message);
        }
    }

    /// <summary>
    /// A partner's update. The header is checked before the blob is read (this stage, a known payload, a size no larger
    /// than this stage's largest update), the whole exchange must end within the round timeout, and the engine then
    /// decodes and checks the blob. A refused update is logged and counted; the stage trains on.
    /// </summary>
    private async Task ServeOuterAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        using var deadline = new Deadline(_time, _options.Rounds.RoundTimeout, ct);
        try
        {
            var message = await PipelineWire.ReadAsync<OuterMessage>(stream, _options.ControlBytesMax, deadline.Token);
            var worker = _worker;
            string? refusal = worker is null || message.Stage != worker.Stage ? $"an update for stage {message.Stage}, this peer serves {worker?.Stage ?? -1}"
                : message.Round < 0 ? $"round {message.Round}"
                : !Enum.IsDefined(message.Payload) ? $"unknown payload {(int)message.Payload}"
                : message.BlobBytes <= 0 || message.BlobBytes > worker.UpdateBytesMax(message.Payload)
                    ? $"declared size {message.BlobBytes} outside 1 .. {worker.UpdateBytesMax(message.Payload)} (the largest {message.Payload} update of this stage)"
                : null;
            if (refusal is not null) throw new PipelineProtocolException(PipelineErrorCode.BadShape, refusal);
            var blob = await PipelineWire.ReadPayloadAsync(stream, message.BlobBytes, deadline.Token);
            Interlocked.Add(ref _outerBytesReceived, blob.LongLength);
            var answer = worker!.OnUpdate(peer.ToString(), message.Round, message.Payload, blob);
            if (answer.Verdict == UpdateVerdict.Refused) throw new PipelineProtocolException(PipelineErrorCode.Malformed, answer.Reason);
            if (answer.Verdict == UpdateVerdict.Ignored) _log.LogDebug("ignored {Peer}'s outer update: {Reason}", peer, answer.Reason);
            else
            {
                if (answer.Returned) _log.LogInformation("{Peer} answers again: back in stage {Stage}'s pairing", peer, worker.Stage);
                Raise(ref _arrival);
            }
        }
        catch (Exception e) when (e is PipelineProtocolException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            Interlocked.Increment(ref _refusedUpdates);
            _log.LogWarning("refused outer update from {Peer}: {Reason}", peer,
                e is OperationCanceledException ? $"not complete within the round timeout ({_options.Rounds.RoundTimeout})" : e.Message);
        }
    }

    /// <summary>
    /// Stage 1 keeps an exact copy of the embedding, stage S−2 of the final norm and head, refreshed every outer round
    /// (CheckFree+ section 4.3; the paper does not say how often, its code never does it; we always do, so a lost first
    /// or last stage gets its embedding or head back exactly with or without the swapped microbatches).
    /// </summary>
    private async Task RefreshBackupAsync(StageWorker worker, WeightPart duty, CancellationToken ct)
    {
        int owner = duty == WeightPart.EmbeddingBackup ? 0 : _options.StageCount - 1;
        var part = duty == WeightPart.EmbeddingBackup ? WeightPart.Embedding : WeightPart.Head;
        var fetched = await FetchAsync(owner, part, worker.PartValues(part), ct);
        if (fetched is null) return;
        try { worker.Import(duty, fetched.Value.Values); }
        catch (ObjectDisposedException) { }
    }
}
