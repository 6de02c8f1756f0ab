using System.Buffers.Binary;
using Decentralized.Kernels;
using Decentralized.Node.Training;
using static TorchSharp.torch;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Decentralized.Node.Rounds;

/// <summary>
/// The outer round, once, for every caller (the daemon, <c>train</c>, the simulator, the pipeline): a state machine
/// with no I/O and no clock of its own beyond the injected <see cref="TimeProvider"/>. The caller pumps it:
/// <code>
///   Begin(θ, live)          → Outgoing: one blob, the targets it goes to
///   OnUpdate(peer, blob)    ← each partner's blob as it arrives (decoded, bounded, kept)
///   OnTick(live)            → ready? else how long until the next deadline
///   Apply(θ)                → the outer step(s) taken; the fast weights to continue from
/// </code>
/// It owns φ (through the <see cref="IOuterMethod"/>), the one-step-delay state (overlap), validation, the last
/// round's consolidation, adaptive deadlines and partner suspension. Calls must not overlap (one thread at a time).
/// The method stays its creator's to dispose.
/// </summary>
public sealed class RoundEngine : IDisposable
{
    private readonly string _self;
    private readonly IOuterMethod _method;
    private readonly RoundCodecs _codecs;
    private readonly RoundOptions _options;
    private readonly TimeProvider _time;
    private readonly int _count;
    private readonly PartnerDeadlines _deadlines;
    private readonly Dictionary<long, Dictionary<string, ReceivedUpdate>> _mailbox = new();
    /// <summary>Judges partners' updates before they are applied (null: verification off).</summary>
    private readonly ContributionVerifier? _verifier;
    /// <summary>Per round, the peers whose update arrived and was refused (and why): an answer, so nobody waits for them.</summary>
    private readonly Dictionary<long, Dictionary<string, string>> _refused = new();
    /// <summary>Exchanges the next <see cref="Apply"/> finishes, oldest first.</summary>
    private readonly List<Exchange> _due = new();
    private Exchange? _inFlight;
    /// <summary>With overlap: the weights this round's local steps started from (φ plus the progress still in flight).</summary>
    private Tensor? _base;
    private float[] _anchor;
    private IReadOnlyDictionary<string, long> _live = new Dictionary<string, long>();

    /// <param name="self">This member's name; members are ordered by ordinal comparison of their names.</param>
    public RoundEngine(string self, IOuterMethod method, RoundCodecs codecs, RoundOptions options, TimeProvider time)
    {
        _self = self;
        _method = method;
        _codecs = codecs;
        _options = options.Validate();
        _time = time;
        _count = checked((int)method.Slow.numel());
        _deadlines = new PartnerDeadlines(options.RoundTimeout);
        Payload = method.ChoosePayload(options.Payload, codecs.Update.IsLossless);
        _anchor = Cpu(method.Slow);
        if (options.Verify is { } verify) _verifier = new ContributionVerifier(verify, options.PeersMax);
    }

    /// <summary>
    /// The loss of a flat weight vector (on φ's device) on one fixed local held-out batch: verification scores each
    /// partner's update with it. Null: updates are clipped and checked but not scored.
    /// </summary>
    public Func<Tensor, double>? Loss { get; set; }

    /// <summary>What this member thinks of each partner it verified (empty without verification).</summary>
    public IReadOnlyList<PartnerStanding> Standings => _verifier?.Standings ?? [];

    /// <summary>Partners whose updates are scored but not applied until they score positive again.</summary>
    public IReadOnlyList<string> Excluded => _verifier?.Excluded ?? [];

    public Payload Payload { get; }

    /// <summary>The round the next <see cref="Begin"/> opens.</summary>
    public long Round { get; private set; }

    public IOuterMethod Method => _method;

    /// <summary>The anchor of <see cref="Payload.AnchoredFast"/>: weights every member held at the same moment.</summary>
    public ReadOnlySpan<float> Anchor => _anchor;

    /// <summary>The chains this member encodes with (their residuals are part of a checkpoint).</summary>
    public RoundCodecs Codecs => _codecs;

    public bool IsSuspended(string peer) => _deadlines.IsSuspended(peer);

    /// <summary>Partners left out of the pairing after <see cref="PartnerDeadlines.MissesToSuspend"/> missed rounds in a row, until they answer again.</summary>
    public IReadOnlyList<string> Suspended => _deadlines.Suspended;

    /// <summary>φ and the anchor become <paramref name="weights"/> (a fresh start, or the synchronous warm-up's end).</summary>
    public void Restart(Tensor weights)
    {
        using (no_grad()) _method.Slow.copy_(weights);
        _anchor = Cpu(weights);
        _base?.Dispose();
        _base = null;
    }

    /// <summary>Sets the anchor alone (a checkpoint restores it).</summary>
    public void RestoreAnchor(ReadOnlySpan<float> anchor) => _anchor = anchor.ToArray();

    /// <summary>Continues from <paramref name="round"/> (a checkpoint, or a joiner taking the swarm's state).</summary>
    public void RestoreRound(long round)
    {
        Round = round;
        _method.Round = round;
    }

    /// <summary>
    /// Opens this round's exchange: builds the update from <paramref name="fast"/>, chooses the group among
    /// <paramref name="live"/> (peer → the round it reports) and this member, and returns the blob to send. With
    /// <paramref name="last"/> the step consolidates and, with overlap, both exchanges still open are finished at once.
    /// </summary>
    public Outgoing Begin(Tensor fast, IReadOnlyDictionary<string, long> live, bool last = false)
    {
        if (_due.Count > 0) throw new InvalidOperationException("apply the awaited round before beginning another");
        _live = live;
        float[] own, ownSlow;
        float[]? slow;
        using (var scope = NewDisposeScope())
        {
            var reference = _options.Overlap ? _base ??= _method.Slow.detach().clone().DetachFromDisposeScope() : _method.Slow;
            (own, slow) = _method.Update(fast, reference, Payload);
            ownSlow = slow ?? (_options.Overlap && Payload != Payload.PseudoGradient ? Cpu(_method.Slow) : []);
        }
        var members = live.Keys.Where(p => p != _self && !_deadlines.IsSuspended(p)).Append(_self).Order(StringComparer.Ordinal).ToArray();
        var group = _method.Group(Array.IndexOf(members, _self), members.Length, _options.Seed, Round).Select(i => members[i]).ToArray();
        var targets = group.Where(p => p != _self).ToArray();
        ulong fingerprint = ContributionVerifier.Hash(Cpu(_method.Slow));
        var blob = Encode(own, slow, Round, fingerprint);
        var now = _time.GetUtcNow();
        var (wait, basis) = _deadlines.For(targets);
        ulong body = ContributionVerifier.Hash(blob.AsSpan(FingerprintBytes));
        _verifier?.Sent(Round, fingerprint, body);
        var exchange = new Exchange(Round, group, targets, own, slow, _method.OwnAsDecoded ? Decode(blob).Primary : null,
            now, now + wait, basis, ownSlow.Length > 0 && _options.Overlap ? ownSlow : null, last) { OwnBody = body, Fingerprint = fingerprint };
        if (!_options.Overlap) _due.Add(exchange);
        else
        {
            if (_inFlight is not null) _due.Add(_inFlight);
            _inFlight = last ? null : exchange;
            if (last) _due.Add(exchange);
        }
        return new Outgoing(Round, Payload, blob, targets);
    }

    /// <summary>
    /// A partner's update. Checked before it is kept: the round window, the payload, the mailbox's bound, then the
    /// codec's shape and finiteness checks. Nothing here throws on bad input; the verdict says what happened. A refused
    /// update still answers for its sender: the round does not wait for it any longer.
    /// </summary>
    public UpdateAnswer OnUpdate(string from, long round, Payload payload, ReadOnlySpan<byte> blob)
    {
        if (!InWindow(round)) return new(UpdateVerdict.Ignored, $"for round {round}, this member is in round {Round}");
        if (payload != Payload) return OnRefused(from, round, $"payload {payload}, this swarm sends {Payload}");
        if (!_mailbox.TryGetValue(round, out var box)) _mailbox[round] = box = new(StringComparer.Ordinal);
        if (box.Count >= _options.PeersMax && !box.ContainsKey(from)) return new(UpdateVerdict.Refused, "too many updates for one round");
        try
        {
            box[from] = Decode(blob);   // a second update from the same peer for the same round replaces the first
        }
        catch (Exception e) when (e is CodecException or InvalidUpdateException)
        {
            return OnRefused(from, round, e.Message);
        }
        _refused.GetValueOrDefault(round)?.Remove(from);
        return new(UpdateVerdict.Accepted, "kept", _deadlines.Answered(from));
    }

    /// <summary>
    /// An update from <paramref name="from"/> for <paramref name="round"/> arrived and was refused (here, or by the
    /// caller from its header): it counts as that peer's answer, so the round closes without waiting for it, and the
    /// refusal counts as a missed round towards suspension. An update already kept from that peer stays kept (a bad
    /// second one neither replaces it nor cancels it); the record is bounded like the mailbox.
    /// </summary>
    public UpdateAnswer OnRefused(string from, long round, string reason)
    {
        if (!InWindow(round)) return new(UpdateVerdict.Ignored, $"for round {round}, this member is in round {Round}");
        if (_mailbox.GetValueOrDefault(round)?.ContainsKey(from) == true) return new(UpdateVerdict.Refused, reason + " (its earlier update stays)");
        if (!_refused.TryGetValue(round, out var refused)) _refused[round] = refused = new(StringComparer.Ordinal);
        if (refused.Count < _options.PeersMax || refused.ContainsKey(from)) refused[from] = reason;
        return new(UpdateVerdict.Refused, reason);
    }

    /// <summary>With overlap round r's exchange is still open while this member already counts round r + 1.</summary>
    private bool InWindow(long round) => round >= (_options.Overlap ? Round - 1 : Round) && round <= Round + 2;

    /// <summary>
    /// Closes whatever exchange can close now: every partner answered, its deadline passed (missing partners
    /// counted towards suspension), or every missing partner left the swarm or already reported a later round.
    /// </summary>
    public TickResult OnTick(IReadOnlyDictionary<string, long>? live = null)
    {
        if (live is not null) _live = live;
        var now = _time.GetUtcNow();
        var suspended = new List<string>();
        var awaited = new List<string>();
        TimeSpan? wake = null;
        foreach (var e in _due.Where(e => e.Closed is null))
        {
            var box = _mailbox.GetValueOrDefault(e.Round);
            foreach (var t in e.Targets.Where(t => box?.ContainsKey(t) == true && e.Seen.Add(t)))
                _deadlines.Arrived(t, (now - e.Opened).TotalSeconds);
            var refused = _refused.GetValueOrDefault(e.Round);
            var refusedTargets = e.Targets.Where(t => box?.ContainsKey(t) != true && refused?.ContainsKey(t) == true).ToArray();
            var missing = e.Targets.Where(t => box?.ContainsKey(t) != true && refused?.ContainsKey(t) != true).ToArray();
            string? closed = missing.Length == 0 ? (e.Targets.Length == 0 ? "no live partner" : "every partner answered")
                : now >= e.Deadline ? Missed(e, missing, suspended)
                : NoneWillSend(e, missing);
            if (closed is null)
            {
                var left = e.Deadline - now;
                wake = wake is null || left < wake ? left : wake;
                awaited.AddRange(missing);
                continue;
            }
            if (refusedTargets.Length > 0)
            {
                suspended.AddRange(refusedTargets.Where(_deadlines.Missed));
                closed += "; refused " + string.Join(", ", refusedTargets.Select(t => $"{t} ({refused![t]})"));
            }
            e.Closed = closed;
            e.ClosedAt = now;
        }
        bool ready = _due.All(e => e.Closed is not null);
        return new TickResult(ready, ready ? null : wake, suspended, awaited.Distinct().ToArray());
    }

    private string Missed(Exchange e, string[] missing, List<string> suspended)
    {
        suspended.AddRange(missing.Where(_deadlines.Missed));
        return $"deadline {(e.Deadline - e.Opened).TotalSeconds:F1} s ({e.DeadlineBasis}) passed without [{string.Join(", ", missing)}]";
    }

    /// <summary>A partner that left will not send; nor will one that reports a later round (it closed this one without us).</summary>
    private string? NoneWillSend(Exchange e, string[] missing)
    {
        long closedBelow = _options.Overlap ? e.Round + 1 : e.Round;   // with overlap a peer counts one round ahead of its exchange
        var gone = missing.Where(m => !_live.ContainsKey(m)).ToArray();
        var passed = missing.Where(m => _live.TryGetValue(m, out long r) && r > closedBelow).ToArray();
        if (gone.Length + passed.Length < missing.Length) return null;
        string left = gone.Length == 0 ? "" : $"[{string.Join(", ", gone)}] left the swarm";
        return passed.Length == 0 ? left : $"[{string.Join(", ", passed)}] already closed round {e.Round}" + (left.Length > 0 ? ", " + left : "");
    }

    /// <summary>
    /// Takes the outer step of every closed exchange that is due and returns the fast weights to continue from
    /// (a new tensor, the caller's): φ without overlap; with it φ plus the local progress made since the round began.
    /// </summary>
    public ApplyResult Apply(Tensor fast)
    {
        if (_due.Any(e => e.Closed is null)) throw new InvalidOperationException("an awaited exchange is still open: tick until ready");
        var outcomes = _due.Select(Finish).ToArray();
        bool last = _due.Any(e => e.Last);
        long finished = _due.Count > 0 ? _due.Max(e => e.Round) : long.MinValue;
        _due.Clear();
        Tensor next;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            if (_options.Overlap && !last)
            {
                var progress = fast - _base!;                     // this round's local steps, in flight to the partners
                next = (_method.Slow + progress).MoveToOuterDisposeScope();
                _base!.copy_(next);
            }
            else
            {
                next = _method.Slow.clone().MoveToOuterDisposeScope();   // θ ← φ
                _base?.Dispose();
                _base = null;
            }
        }
        foreach (var old in _mailbox.Keys.Where(r => r <= finished).ToArray()) _mailbox.Remove(old);
        foreach (var old in _refused.Keys.Where(r => r <= finished).ToArray()) _refused.Remove(old);
        long from = ++Round;
        // Behind the swarm (a slow machine, a long pause): pairing derives from the round number, so a member on an old
        // round pairs with nobody. Skip to the round most live peers report; the weights stay ours, only the count moves.
        long swarm = MedianLiveRound();
        if (swarm > Round) Round = swarm;
        _method.Round = Round;
        return new ApplyResult(next, outcomes, swarm > from ? from : null);
    }

    private long MedianLiveRound()
    {
        var rounds = _live.Where(p => p.Key != _self).Select(p => p.Value).Order().ToArray();
        return rounds.Length == 0 ? 0 : rounds[rounds.Length / 2];
    }

    private RoundOutcome Finish(Exchange e)
    {
        using var scope = NewDisposeScope();
        var (accepted, rejected) = Validate(e, _mailbox.GetValueOrDefault(e.Round));
        var verdicts = Verify(e, accepted);
        if (verdicts is not null)
        {
            accepted = verdicts.Accepted;
            rejected.AddRange(verdicts.Refused);
        }
        var device = _method.Slow.device;
        Tensor T(float[] v) => tensor(v).to(device);
        bool weights = Payload.CarriesWeights();
        // Every member built its update on its φ of that round; if an overlapped step has moved ours since, the group's
        // weights move with it, so the pull measures the distance as of the round it was sent in.
        var shift = e.SentFrom is { } from ? _method.Slow - T(from) : null;
        Tensor W(float[] v) => shift is null ? T(v) : T(v).add_(shift);
        var group = new List<Contribution>(e.Group.Length);
        var used = new List<string>();
        foreach (var member in e.Group)
        {
            if (member == _self) group.Add(new(weights ? W(e.Own) : T(e.OwnDecoded ?? e.Own), e.OwnSlow is null ? null : W(e.OwnSlow)));
            else if (accepted.TryGetValue(member, out var u))
            {
                group.Add(new(weights ? W(u.Primary) : T(u.Primary), u.Slow is null ? null : W(u.Slow)));
                used.Add(member);
            }
        }
        bool consolidate = e.Last && _options.ConsolidateLastRound;
        TorchGuard.Run(() => { _method.Step(Payload, group, consolidate); return 0; });
        return new RoundOutcome(e.Round, e.Targets, used, rejected, (e.ClosedAt - e.Opened).TotalSeconds, e.Closed!, consolidate,
            verdicts?.Scores, verdicts?.NewlyExcluded, verdicts?.Readmitted);
    }

    /// <summary>
    /// Verification of the updates that passed the norm bound (null when it is off, and for the synchronous warm-up's
    /// gradients): each is judged by the Δ it implies relative to the φ it was built on.
    /// </summary>
    private Verdicts? Verify(Exchange e, Dictionary<string, ReceivedUpdate> accepted)
    {
        if (_verifier is null || Payload == Payload.Gradient) return null;
        var basis = e.SentFrom ?? Cpu(_method.Slow);
        var own = ContributionVerifier.DeltaOf(Payload, basis, e.OwnDecoded ?? e.Own, e.OwnSlow);
        var view = new ExchangeView(e.Round, Payload, basis, own, e.OwnBody, e.Fingerprint, SharedBase: _method.OwnAsDecoded);
        var received = e.Targets.Where(accepted.ContainsKey).Select(t => (t, accepted[t])).ToArray();
        double scale = _options.Verify!.StepFraction * _method.OuterLearningRate;
        return TorchGuard.Run(() => _verifier.Judge(view, received, Loss, _method.Slow, scale));
    }

    /// <summary>Norm checks against our own update: a poisoned or runaway update is dropped and reported.</summary>
    private (Dictionary<string, ReceivedUpdate> Accepted, List<(string, string)> Rejected) Validate(
        Exchange e, Dictionary<string, ReceivedUpdate>? box)
    {
        var accepted = new Dictionary<string, ReceivedUpdate>(StringComparer.Ordinal);
        var rejected = new List<(string, string)>();
        if (box is null) return (accepted, rejected);
        bool weights = Payload.CarriesWeights();   // θ: judged by its distance from our φ
        float[]? slow = weights ? Cpu(_method.Slow) : null;
        double ownNorm = weights ? TensorPrimitives.Distance(e.Own, slow!) : TensorPrimitives.Norm(e.Own);
        double bound = _options.UpdateNormBound * Math.Max(ownNorm, 1e-6);
        foreach (var peer in e.Targets)
        {
            if (!box.TryGetValue(peer, out var u)) continue;
            double norm = weights ? TensorPrimitives.Distance(u.Primary, slow!) : TensorPrimitives.Norm(u.Primary);
            string? reason = norm > bound ? $"norm {norm:G3} exceeds {_options.UpdateNormBound}x ours ({ownNorm:G3})"
                : u.Slow is not null && TensorPrimitives.Distance(u.Slow, e.OwnSlow!) > 0.5 * TensorPrimitives.Norm(e.OwnSlow!) ? "slow weights too far from ours"
                : null;
            if (reason is null) accepted[peer] = u;
            else rejected.Add((peer, reason));
        }
        return (accepted, rejected);
    }

    /// <summary>Bytes of the φ fingerprint every blob starts with.</summary>
    public const int FingerprintBytes = 8;

    /// <summary>
    /// One blob per round, behind the fingerprint of the φ its sender built it on (the cheap check that a partner
    /// trained from the outer weights it claims, and what catches a stale or replayed update):
    /// <code>
    ///   [φ fingerprint: u64 LE, XxHash64 of φ's fp32 bytes][body]
    /// </code>
    /// The body: anchored θ is the weights chain's blob of θ − anchor. Δ and φ:
    /// <code>
    ///   [primary bytes: i32 LE][update chain blob of Δ][slow chain blob of φ]
    /// </code>
    /// Otherwise the update chain's blob of the primary vector.
    /// </summary>
    private byte[] Encode(float[] primary, float[]? slow, long round, ulong fingerprint)
    {
        var body = EncodeBody(primary, slow, round);
        var blob = new byte[FingerprintBytes + body.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(blob, fingerprint);
        body.CopyTo(blob, FingerprintBytes);
        return blob;
    }

    private byte[] EncodeBody(float[] primary, float[]? slow, long round)
    {
        int seed = (int)round;
        if (Payload == Payload.AnchoredFast)
        {
            var offset = new float[primary.Length];
            TensorPrimitives.Subtract(primary, _anchor, offset);
            return _codecs.Weights.Encode(offset, "anchored", seed);
        }
        // Each kind of vector keeps its own error-feedback residual in the chain.
        var first = UpdateCodec.Encode(primary, Payload switch { Payload.FastWeights => "fast", Payload.Gradient => "grad", _ => "delta" }, seed);
        if (Payload != Payload.DeltaAndSlow) return first;
        var second = _codecs.Slow.Encode(slow!, "slow", seed);
        var blob = new byte[4 + first.Length + second.Length];
        BinaryPrimitives.WriteInt32LittleEndian(blob, first.Length);
        first.CopyTo(blob, 4);
        second.CopyTo(blob, 4 + first.Length);
        return blob;
    }

    /// <summary>Decodes a blob of this run's payload (from an untrusted peer); throws <see cref="CodecException"/> or <see cref="InvalidUpdateException"/>.</summary>
    private ReceivedUpdate Decode(ReadOnlySpan<byte> blob)
    {
        if (blob.Length <= FingerprintBytes) throw new InvalidUpdateException($"update of {blob.Length} bytes has no body after its fingerprint");
        ulong fingerprint = BinaryPrimitives.ReadUInt64LittleEndian(blob);
        var body = blob[FingerprintBytes..];
        var (primary, slow) = DecodeBody(body);
        return new ReceivedUpdate(primary, slow, fingerprint, ContributionVerifier.Hash(body));
    }

    private (float[] Primary, float[]? Slow) DecodeBody(ReadOnlySpan<byte> blob)
    {
        var primary = new float[_count];
        if (Payload == Payload.AnchoredFast)
        {
            _codecs.Weights.DecodeInto(blob, primary);
            TensorPrimitives.Add(primary, _anchor, primary);
            return (primary, null);
        }
        if (Payload != Payload.DeltaAndSlow)
        {
            UpdateCodec.DecodeInto(blob, primary);
            return (primary, null);
        }
        if (blob.Length < 4) throw new InvalidUpdateException("update too short");
        int first = BinaryPrimitives.ReadInt32LittleEndian(blob);
        if (first <= 0 || first > blob.Length - 4) throw new InvalidUpdateException($"update declares a first part of {first} bytes in a {blob.Length}-byte blob");
        var slow = new float[_count];
        _codecs.Update.DecodeInto(blob.Slice(4, first), primary);
        _codecs.Slow.DecodeInto(blob[(4 + first)..], slow);
        return (primary, slow);
    }

    /// <summary>The method's own wire form, else the round's update chain.</summary>
    private IUpdateCodec UpdateCodec => _method.OwnCodec ?? _codecs.Update;

    /// <summary>A tensor's values as a new CPU float array.</summary>
    internal static float[] Cpu(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        return c.data<float>().ToArray();
    }

    public void Dispose()
    {
        _base?.Dispose();
    }
}
