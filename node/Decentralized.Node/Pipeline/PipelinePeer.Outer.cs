using System.Collections.Concurrent;
using Decentralized.Node.Outer;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Pipeline;

public sealed partial class PipelinePeer
{
    private readonly ConcurrentDictionary<PeerId, (int Stage, long Round, float[] Fast)> _outerMailbox = new();
    private int _roundRunning;

    /// <summary>After each backward: start an outer round when H more AdamW steps have been taken since the last.</summary>
    private void AfterBackward(StageWorker worker, CancellationToken ct)
    {
        if (worker.Steps < (worker.Round + 1) * _options.InnerStepsPerRound) return;
        if (Interlocked.CompareExchange(ref _roundRunning, 1, 0) != 0) return;
        _ = Task.Run(async () =>
        {
            try { await OuterRoundAsync(worker, ct); }
            catch (Exception e) when (!ct.IsCancellationRequested) { _log.LogWarning("outer round failed: {Reason}", e.Message); }
            finally { Volatile.Write(ref _roundRunning, 0); }
        }, CancellationToken.None);
    }

    /// <summary>
    /// One NoLoCo round among the live replicas of this stage: send θ_r to the group, wait (bounded) for theirs, step.
    /// The group is derived from (seed, stage, round) over the sorted live replicas, as NoLoCo pairs without a coordinator.
    /// Training goes on meanwhile; the late correction keeps those steps.
    /// </summary>
    private async Task OuterRoundAsync(StageWorker worker, CancellationToken ct)
    {
        long round = worker.Round + 1;
        var fast = worker.BeginRound();
        var members = _directory.LiveOf(worker.Stage).Select(m => m.Peer).Append(LocalPeer)
            .OrderBy(p => p.ToString(), StringComparer.Ordinal).ToArray();
        int self = Array.IndexOf(members, LocalPeer);
        var group = NoLoCoPairing.GroupOf(self, members.Length, _options.Seed * 1_000 + worker.Stage, round, _options.Outer.GroupSize)
            .Where(i => i != self).Select(i => members[i]).ToArray();
        await Task.WhenAll(group.Select(p => SendOuterAsync(p, worker.Stage, round, fast, ct)));
        var deadline = _time.GetUtcNow() + _options.OuterWaitMax;
        var received = new List<float[]>();
        foreach (var partner in group)
        {
            while (true)
            {
                if (_outerMailbox.TryGetValue(partner, out var entry) && entry.Stage == worker.Stage && entry.Round >= round - 1)
                {
                    received.Add(entry.Fast);
                    _outerMailbox.TryRemove(partner, out _);
                    break;
                }
                if (_time.GetUtcNow() >= deadline) break;
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time, ct);
            }
        }
        if (worker.BackupDuty(_options.StageCount) is { } duty) await RefreshBackupAsync(worker, duty, ct);
        worker.ApplyOuter(received);
        // A lone replica of its stage has nobody to average with: that is the normal case there, not news every round.
        _log.Log(group.Length == 0 ? LogLevel.Debug : LogLevel.Information,
            "stage {Stage} outer round {Round}: averaged with {Count} of {Group} partners", worker.Stage, worker.Round, received.Count, group.Length);
    }

    private async Task SendOuterAsync(PeerId peer, int stage, long round, float[] fast, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.OuterWaitMax);
            await using var stream = await _network.OpenStreamAsync(peer, PipelineProtocols.Outer, timeout.Token);
            await PipelineWire.WriteAsync(stream, new OuterMessage(stage, round, fast.LongLength), timeout.Token);
            await Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, PipelineWire.FloatBytes(fast), timeout.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogDebug("outer weights to {Peer} failed: {Reason}", peer, e.Message);
        }
    }

    private async Task ServeOuterAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        try
        {
            var message = await PipelineWire.ReadAsync<OuterMessage>(stream, _options.ControlBytesMax, ct);
            var worker = _worker;
            if (worker is null || message.Stage != worker.Stage || message.Values != worker.FlatCount || message.Round < 0)
                throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"outer weights for stage {message.Stage} ({message.Values} values) do not fit this stage");
            var values = PipelineWire.Floats(await PipelineWire.ReadPayloadAsync(stream, message.Values * 4, ct));
            if (_outerMailbox.Count < _options.PeersMax || _outerMailbox.ContainsKey(peer))
                _outerMailbox[peer] = (message.Stage, message.Round, values);
        }
        catch (PipelineProtocolException e) { _log.LogWarning("refused outer weights from {Peer}: {Reason}", peer, e.Message); }
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
