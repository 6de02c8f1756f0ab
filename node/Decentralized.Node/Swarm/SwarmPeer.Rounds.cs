using System.Buffers.Binary;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    /// <summary>
    /// One outer round. NoLoCo: the group is derived from (swarm seed, round) over the sorted live set plus
    /// us, so members agree without messages; we send our update to our partners and step with whatever
    /// valid updates arrived for this round by the deadline (a missing partner just shrinks the group).
    /// DiLoCo: the same with every live peer (an all-gather), averaging the pseudo-gradients that arrived.
    /// With <see cref="SwarmOptions.Overlap"/> the exchange of round r runs while round r+1's inner steps
    /// compute, and its outer step lands one round late (DiLoCoX / async DiLoCo): the fast weights are
    /// rebased onto the new φ, keeping only the local progress made since the exchange started.
    /// </summary>
    private async Task OuterRoundAsync(CancellationToken ct)
    {
        long round = Round;
        if (!_options.Overlap)
        {
            var (own, ownSlow, kind) = OwnUpdate(Slow, allowFastForm: true);
            await FinishExchangeAsync(StartExchange(round, own, ownSlow, kind, ct));
            lock (_outerLock) { Trainer.Flat.Assign(Slow); AdvanceRound(); }   // θ ← φ
            return;
        }
        // The first overlapped round (a fresh start, a joiner, a restart) began from φ: its update is all it trained.
        _base ??= Slow.detach().clone().DetachFromDisposeScope();
        var update = OwnUpdate(_base, allowFastForm: false);
        // NoLoCo's pull compares the partners' weights with ours as of the same round; the pending step lands on φ
        // before this exchange closes, so remember the φ this round's update was built on.
        var next = StartExchange(round, update.Primary, update.Slow, update.Kind, ct, NoLoCo is null ? null : update.Slow ?? Cpu(Slow));
        if (_pending is not null) await FinishExchangeAsync(_pending);
        lock (_outerLock)
        {
            using var scope = NewDisposeScope();
            using var fast = Trainer.Flat.Snapshot();
            var progress = fast - _base;                      // this round's local steps, in flight to the partners
            Trainer.Flat.Assign(Slow + progress);             // θ ← φ (with every finished round) + progress
            _base.copy_(Slow + progress);
            AdvanceRound();
        }
        _pending = next;
    }

    private void AdvanceRound()
    {
        Round++;
        // Behind the swarm (a slow machine, a long pause): pairing is derived from the round number, so a peer on an
        // old round pairs with nobody and waits out every deadline. Skip to the round most live peers report; our
        // weights stay ours, only the count moves, and the next exchange pairs us again.
        long swarm = MedianLiveRound();
        if (swarm > Round)
        {
            _log.LogInformation("behind the swarm: skipping from round {Round} to round {Swarm}, where most live peers are", Round, swarm);
            Round = swarm;
        }
        StepsInRound = 0;
        if (DiLoCo is not null) DiLoCo.Round = Round;
        if (NoLoCo is not null) NoLoCo.Round = Round;
    }

    /// <summary>The median round the live peers report in their heartbeats (0 when none is live).</summary>
    private long MedianLiveRound()
    {
        var rounds = Membership.LivePeers().Select(p => Membership.Get(p)?.Round ?? 0).Order().ToArray();
        return rounds.Length == 0 ? 0 : rounds[rounds.Length / 2];
    }

    /// <summary>
    /// An exchange in flight: what we sent and the task that sends it and waits for the partners. With overlap,
    /// <paramref name="SentFrom"/> is NoLoCo's φ when the update was built (a later outer step may have moved φ since).
    /// </summary>
    private sealed record Exchange(long Round, float[] Own, float[]? OwnSlow, UpdateKind Kind, IReadOnlyList<PeerId> Targets,
        Task<(string Closed, long Sent)> Transfer, float[]? SentFrom);

    private Exchange StartExchange(long round, float[] own, float[]? ownSlow, UpdateKind kind, CancellationToken ct, float[]? sentFrom = null)
    {
        var targets = ChooseTargets(Membership.LivePeers(), round);
        var blob = EncodeUpdate(own, ownSlow, kind, round);
        Stats.Awaited = targets.Select(p => p.ToString()).ToArray();
        var sends = targets.Select(p => SendUpdateAsync(p, new UpdateHeader(round, kind, blob.Length), blob, ct)).ToArray();
        async Task<(string, long)> Transfer()
        {
            var closed = await WaitForUpdatesAsync(round, targets, ct);
            var sent = await Task.WhenAll(sends);
            return (closed, sent.Sum());
        }
        return new Exchange(round, own, ownSlow, kind, targets, Transfer(), sentFrom);
    }

    /// <summary>Waits for an exchange (the only time this peer idles), validates what arrived and takes the outer step on φ.</summary>
    private async Task FinishExchangeAsync(Exchange exchange)
    {
        long started = _time.GetTimestamp();
        var (closed, sent) = await exchange.Transfer;
        double waited = _time.GetElapsedTime(started).TotalSeconds;
        // Sorted by sender: the average is summed in the same order on every run (the simulator replays runs bit for bit).
        var received = _mailbox.TryGetValue(exchange.Round, out var box)
            ? box.Values.OrderBy(u => u.From.ToString(), StringComparer.Ordinal).ToArray() : [];
        var (accepted, rejected) = Validate(received, exchange.Own, exchange.OwnSlow, exchange.Kind);
        ApplyOuterStep(exchange, accepted);
        Stats.Awaited = [];
        Stats.WaitSeconds += waited;
        Stats.AddRound();
        foreach (var old in _mailbox.Keys.Where(r => r <= exchange.Round)) _mailbox.TryRemove(old, out _);

        var report = new RoundReport(exchange.Round, exchange.Targets.Select(Short).ToArray(), accepted.Select(u => Short(u.From)).ToArray(),
            rejected, waited, closed, sent);
        _log.LogInformation("round {Round}: waited {Wait:F1} s for [{Partners}], used [{Received}], closed: {Closed}",
            exchange.Round, waited, string.Join(", ", report.Partners), string.Join(", ", report.Received), closed);
        OnRound?.Invoke(report);
    }

    private static string Short(PeerId peer) => peer.ToString()[^6..];

    private IReadOnlyList<PeerId> ChooseTargets(IReadOnlyList<PeerId> live, long round)
    {
        live = live.Where(p => !_deadlines.IsSuspended(p)).ToArray();
        if (DiLoCo is not null) return live;
        var members = live.Append(LocalPeer).OrderBy(p => p.ToString(), StringComparer.Ordinal).ToArray();
        int me = Array.IndexOf(members, LocalPeer);
        var group = NoLoCoPairing.GroupOf(me, members.Length, _options.SwarmSeed, round, NoLoCo!.Options.GroupSize);
        return group.Where(i => i != me).Select(i => members[i]).ToArray();
    }

    /// <summary>What we put on the wire this round, as CPU floats (see <see cref="UpdateKind"/>); progress is measured from <paramref name="reference"/>.</summary>
    private (float[] Primary, float[]? Slow, UpdateKind Kind) OwnUpdate(Tensor reference, bool allowFastForm)
    {
        using var scope = NewDisposeScope();
        using var fast = Trainer.Flat.Snapshot();
        if (DiLoCo is not null) return (Cpu(reference - fast), null, UpdateKind.PseudoGradient);   // Δ = φ − θ
        bool fastForm = allowFastForm && _codec.IsLossless && NoLoCo!.Options.EffectiveGamma == NoLoCo.Options.Beta;
        if (fastForm) return (Cpu(fast), null, UpdateKind.FastWeights);
        // φ + (θ − reference) is θ itself without overlap; with overlap it is the fast weights this exchange stands for
        // (φ plus the round's own progress), and the γ = β step on it equals the Δ-and-φ step exactly.
        if (_anchor is not null) return (Cpu(Slow + (fast - reference)), null, UpdateKind.AnchoredFast);
        return (Cpu(fast - reference), Cpu(NoLoCo!.Slow), UpdateKind.DeltaAndSlow);
    }

    /// <summary>A tensor's values as a new CPU float array.</summary>
    internal static float[] Cpu(Tensor t)
    {
        using var c = t.detach().cpu();
        return c.data<float>().ToArray();
    }

    /// <summary>One blob per round: [u32 primary length][primary][slow] for two vectors, else just the primary.</summary>
    private byte[] EncodeUpdate(float[] primary, float[]? slow, UpdateKind kind, long round)
    {
        if (kind == UpdateKind.AnchoredFast)
        {
            var offset = new float[primary.Length];
            TensorPrimitives.Subtract(primary, _anchor!, offset);
            return _weightsCodec!.Encode(offset, "anchored", (int)round);
        }
        var first = _codec.Encode(primary, kind == UpdateKind.FastWeights ? "fast" : "delta", (int)round);
        if (slow is null) return first;
        var second = _slowCodec.Encode(slow, "slow", (int)round);
        var blob = new byte[4 + first.Length + second.Length];
        BinaryPrimitives.WriteInt32LittleEndian(blob, first.Length);
        first.CopyTo(blob, 4);
        second.CopyTo(blob, 4 + first.Length);
        return blob;
    }

    /// <summary>Waits until every target's update for this round arrived or the adaptive deadline passed.</summary>
    private async Task<string> WaitForUpdatesAsync(long round, IReadOnlyList<PeerId> targets, CancellationToken ct)
    {
        if (targets.Count == 0) return "no live partner";
        var start = _time.GetUtcNow();
        var (wait, basis) = _deadlines.For(targets);
        var deadline = start + wait;
        var seen = new HashSet<PeerId>();
        while (true)
        {
            var arrival = _arrival.Task;
            var box = _mailbox.GetOrAdd(round, _ => new());
            foreach (var t in targets.Where(t => box.ContainsKey(t) && seen.Add(t)))
                if (_deadlines.Arrived(t, (_time.GetUtcNow() - start).TotalSeconds))
                    _log.LogInformation("peer {Peer} answers again: back in our pairing", t);
            var missing = targets.Where(t => !box.ContainsKey(t)).ToArray();
            Stats.Awaited = missing.Select(p => p.ToString()).ToArray();
            if (missing.Length == 0) return "every partner answered";
            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                foreach (var m in missing.Where(_deadlines.Missed))
                    _log.LogWarning("peer {Peer} missed {Misses} rounds in a row: dropped from our pairing until it answers again", m, RoundDeadlines.MissesToSuspend);
                return $"deadline {wait.TotalSeconds:F1} s ({basis}) passed without [{string.Join(", ", missing.Select(Short))}]";
            }
            // A partner that died is dropped from the live set by the heartbeat, and one whose heartbeat reports a later
            // round has closed this one without us (its send failed or we refused it): neither will send, stop waiting.
            var live = Membership.LivePeers();
            long closedBelow = _options.Overlap ? round + 1 : round;   // with overlap a peer counts one round ahead of its exchange
            var gone = missing.Where(m => !live.Contains(m)).ToArray();
            var passed = missing.Where(m => live.Contains(m) && Membership.Get(m)?.Round > closedBelow).ToArray();
            if (gone.Length + passed.Length == missing.Length)
                return passed.Length == 0 ? $"partners [{string.Join(", ", gone.Select(Short))}] left the swarm"
                    : $"partners [{string.Join(", ", passed.Select(Short))}] already closed round {round}" + (gone.Length > 0 ? $", [{string.Join(", ", gone.Select(Short))}] left the swarm" : "");
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // Whole milliseconds, at least one: Task.Delay truncates to milliseconds, and a sub-millisecond rest of the
            // deadline would complete at once and spin this loop (forever on a virtual clock that only moves between events).
            var nap = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling((left < _options.HeartbeatInterval ? left : _options.HeartbeatInterval).TotalMilliseconds)));
            var delay = Task.Delay(nap, _time, wake.Token);
            await Task.WhenAny(arrival, delay);
            wake.Cancel();
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Norm checks against our own update: a poisoned or runaway update is dropped, logged and counted.</summary>
    private (List<ReceivedUpdate> Accepted, List<string> Rejected) Validate(IEnumerable<ReceivedUpdate> received, float[] own, float[]? ownSlow, UpdateKind kind)
    {
        var accepted = new List<ReceivedUpdate>();
        var rejected = new List<string>();
        bool weights = kind is UpdateKind.FastWeights or UpdateKind.AnchoredFast;   // θ: judged by its distance from our φ
        float[]? slow = weights ? SnapshotVector(Slow) : null;
        double ownNorm = weights ? Distance(own, slow!) : TensorPrimitives.Norm(own);
        double bound = _options.UpdateNormBound * Math.Max(ownNorm, 1e-6);
        foreach (var update in received)
        {
            string? reason = null;
            if (update.Kind != kind) reason = $"kind {update.Kind}, this round uses {kind}";
            else
            {
                double norm = weights ? Distance(update.Primary, slow!) : TensorPrimitives.Norm(update.Primary);
                if (norm > bound) reason = $"norm {norm:G3} exceeds {_options.UpdateNormBound}x ours ({ownNorm:G3})";
                else if (update.Slow is not null && Distance(update.Slow, ownSlow!) > 0.5 * TensorPrimitives.Norm(ownSlow!))
                    reason = "slow weights too far from ours";
            }
            if (reason is null) { accepted.Add(update); continue; }
            Stats.AddRejected();
            rejected.Add(Short(update.From));
            _log.LogWarning("rejected update from {Peer} for round {Round}: {Reason}", update.From, update.Round, reason);
        }
        return (accepted, rejected);
    }

    private static double Distance(float[] a, float[] b) => TensorPrimitives.Distance(a, b);

    private void ApplyOuterStep(Exchange exchange, List<ReceivedUpdate> accepted) => TorchGuard.Run(() =>
    {
        using var scope = NewDisposeScope();
        var device = Slow.device;
        Tensor T(float[] v) => tensor(v).to(device);
        lock (_outerLock)
        {
            if (DiLoCo is not null)
            {
                var sum = T(exchange.Own);
                foreach (var u in accepted) sum.add_(T(u.Primary));
                DiLoCo.Step(sum.div_(accepted.Count + 1));   // average over whoever answered (DiLoCo tolerates drop-outs)
                return;
            }
            // Every member built its update on its φ of that round; if an overlapped step has moved ours since, the
            // group's weights move with it, so the pull measures the distance as of the round it was sent in.
            var shift = exchange.SentFrom is { } from ? Slow - T(from) : null;
            Tensor Weights(float[] v) => shift is null ? T(v) : T(v).add_(shift);
            if (exchange.Kind is UpdateKind.FastWeights or UpdateKind.AnchoredFast)
                NoLoCo!.StepFromFast(accepted.Select(u => Weights(u.Primary)).Prepend(Weights(exchange.Own)).ToArray());
            else
                NoLoCo!.Step(accepted.Select(u => T(u.Primary)).Prepend(T(exchange.Own)).ToArray(),
                    accepted.Select(u => Weights(u.Slow!)).Prepend(Weights(exchange.OwnSlow!)).ToArray());
        }
    });
}
