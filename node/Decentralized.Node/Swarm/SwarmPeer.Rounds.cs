using Decentralized.Node.Rounds;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    /// <summary>
    /// One outer round on the <see cref="RoundEngine"/>: it chooses the partners (NoLoCo's group from the swarm seed and
    /// round over the sorted live set plus us; every live peer for DiLoCo), builds and encodes our update, and decides
    /// when the exchange is over; this method only sends the blob, waits on arrivals and deadlines, and assigns the
    /// weights the engine hands back. With overlap the exchange of round r finishes during round r+1 (the engine keeps
    /// the progress made meanwhile); the run's last round (<see cref="SwarmOptions.RoundsMax"/>) consolidates.
    /// </summary>
    private async Task OuterRoundAsync(CancellationToken ct)
    {
        var live = Live(_engine, out var peers);
        bool last = _options.RoundsMax > 0 && Round + 1 >= _options.RoundsMax;
        Outgoing outgoing;
        lock (_outerLock)
        {
            using var fast = Trainer.Flat.Snapshot();
            using var lie = Misbehave?.Tamper(fast, _method.Slow, Round, _options.UpdateNormBound);
            outgoing = _engine.Begin(lie ?? fast, live, last);
        }
        var blob = Misbehave?.Blob(outgoing.Blob) ?? outgoing.Blob;
        var header = new UpdateHeader(outgoing.Round, outgoing.Payload, blob.Length);
        // An echoing peer answers each partner's update with that update instead (ReceiveUpdateAsync).
        var sends = outgoing.Targets.Where(_ => Misbehave?.Echoes != true).Select(t => SendUpdateAsync(peers[t], header, blob, ct)).ToArray();
        _sends[outgoing.Round] = (outgoing.Targets, Task.WhenAll(sends));
        long started = _time.GetTimestamp();
        await WaitUntilReadyAsync(_engine, ct);
        double waited = _time.GetElapsedTime(started).TotalSeconds;
        ApplyResult result;
        lock (_outerLock)
        {
            using var fast = Trainer.Flat.Snapshot();
            result = _engine.Apply(fast);
            using (result.Fast) Trainer.Flat.Assign(result.Fast);
            Round = _engine.Round;
            StepsInRound = 0;
        }
        if (result.SkippedFrom is { } from)
            _log.LogInformation("behind the swarm: skipping from round {Round} to round {Swarm}, where most live peers are", from, Round);
        Stats.Awaited = [];
        Stats.WaitSeconds += waited;
        foreach (var outcome in result.Outcomes) await ReportAsync(outcome, waited);
    }

    /// <summary>
    /// The live peers by the name the engine knows them by, with where each reports it is in <paramref name="engine"/>'s
    /// count: its outer round, or for the warm-up's engine its inner step.
    /// </summary>
    private Dictionary<string, long> Live(RoundEngine engine, out Dictionary<string, PeerId> peers)
    {
        var live = Membership.LivePeers();
        peers = live.ToDictionary(p => p.ToString(), p => p, StringComparer.Ordinal);
        bool steps = engine == _warmup;
        return live.ToDictionary(p => p.ToString(), p => Membership.Get(p) is { } m ? (steps ? m.Step : m.Round) : 0, StringComparer.Ordinal);
    }

    /// <summary>Ticks the engine on every arrival and at its deadlines (or each heartbeat, to notice peers that left) until the due exchanges close.</summary>
    private Task WaitUntilReadyAsync(RoundEngine engine, CancellationToken ct) => RoundWait.UntilReadyAsync(() =>
    {
        var live = Live(engine, out _);
        TickResult tick;
        lock (_outerLock)
        {
            tick = engine.OnTick(live);
            Stats.Suspended = engine.Suspended;
        }
        Stats.Awaited = tick.Awaited;
        foreach (var peer in tick.Suspended)
            _log.LogWarning("peer {Peer} missed {Misses} rounds in a row: dropped from our pairing until it answers again", peer, PartnerDeadlines.MissesToSuspend);
        return tick;
    }, () => _arrival.Task, _options.HeartbeatInterval, _time, ct);

    /// <summary>Logs and counts one finished exchange, once its sends have finished (they are bounded by the round timeout).</summary>
    private async Task ReportAsync(RoundOutcome outcome, double waited)
    {
        long sent = 0;
        if (_sends.Remove(outcome.Round, out var sends))
        {
            try { sent = (await sends.Bytes).Sum(); }
            catch (OperationCanceledException) { }
        }
        foreach (var (peer, reason) in outcome.Rejected)
        {
            Stats.AddRejected();
            _log.LogWarning("rejected update from {Peer} for round {Round}: {Reason}", peer, outcome.Round, reason);
        }
        foreach (var peer in outcome.Excluded ?? [])
            _log.LogWarning("peer {Peer} excluded: {Negatives} negative scores in a row; its updates are scored but not applied until {Positives} in a row score positive", peer, _options.Verify!.NegativesToExclude, _options.Verify!.PositivesToReadmit);
        foreach (var peer in outcome.Readmitted ?? [])
            _log.LogInformation("peer {Peer} readmitted: its updates scored positive {Positives} rounds in a row", peer, _options.Verify!.PositivesToReadmit);
        lock (_outerLock)
        {
            Stats.Excluded = _engine.Excluded;
            Stats.Standings = _engine.Standings;
        }
        if (outcome.Scores is { Count: > 0 } scores)
            _log.LogInformation("round {Round}: scored [{Scores}] on our held-out batch", outcome.Round,
                string.Join(", ", scores.Select(s => FormattableString.Invariant($"{Short(s.Peer)} {s.Score:+0.0000;-0.0000}"))));
        Stats.UpdatesScored += outcome.Scores?.Count ?? 0;
        Stats.AddRound();
        var report = new RoundReport(outcome.Round, outcome.Partners.Select(Short).ToArray(), outcome.Used.Select(Short).ToArray(),
            outcome.Rejected.Select(r => Short(r.Peer)).ToList(), waited, outcome.Closed, sent);
        _log.LogInformation("round {Round}: waited {Wait:F1} s for [{Partners}], used [{Received}], closed: {Closed}{Consolidated}",
            outcome.Round, waited, string.Join(", ", report.Partners), string.Join(", ", report.Received), outcome.Closed,
            outcome.Consolidated ? " (last round: the group's average)" : "");
        OnRound?.Invoke(report);
    }

    private static string Short(string peer) => peer.Length > 6 ? peer[^6..] : peer;

    private static string Short(PeerId peer) => Short(peer.ToString());

    /// <summary>A tensor's values as a new CPU float array.</summary>
    internal static float[] Cpu(Tensor t) => RoundEngine.Cpu(t);
}
