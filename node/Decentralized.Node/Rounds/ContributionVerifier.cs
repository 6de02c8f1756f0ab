using System.IO.Hashing;
using System.Runtime.InteropServices;
using static TorchSharp.torch;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Decentralized.Node.Rounds;

/// <summary>
/// The round engine's judge of received updates (ALGORITHMS.md, "Verifying contributions"), once for every caller.
/// Each partner's update is first converted into the Δ it implies relative to the φ it was built on (a pseudo-gradient
/// is one; weights θ_j give φ − θ_j), then:
/// <code>
///   echo / replay / duplicate   body hash equal to ours, to one seen in an earlier round or from another sender
///   stale base                  the φ fingerprint its sender already claimed in an earlier round (or, where φ is
///                               shared, one of our earlier φ)
///   free rider                  ‖Δ‖ under a fraction of the median of recent norms, or Δ equal to our own
///   clip                        ‖Δ‖ over c × median of recent norms (ours included): scaled down to it
///   score                       s = (L(φ) − L(φ − 0.2·α·Δ))/L(φ) on one held-out batch; s &lt; −ε is harmful, and so
///                               is s &lt; κ·s₀ where our own update's s₀ &gt; ε (it does not help: a random direction)
/// </code>
/// A failed check or a harmful score is a negative; after <see cref="VerifyOptions.NegativesToExclude"/> in a row the
/// partner is excluded until it scores positive <see cref="VerifyOptions.PositivesToReadmit"/> times in a row. State is bounded: a few rounds of hashes and norms, one standing per
/// partner (at most <c>4 × peersMax</c>, the least recently seen forgotten first).
/// </summary>
internal sealed class ContributionVerifier(VerifyOptions options, int peersMax)
{
    private readonly VerifyOptions _options = options.Validate();
    private readonly Dictionary<ulong, (long Round, string Peer)> _bodies = new();
    private readonly List<(long Round, double Norm)> _norms = [];
    private readonly Dictionary<long, ulong> _ourFingerprints = new();
    private readonly Dictionary<string, Standing> _standings = new(StringComparer.Ordinal);

    private sealed class Standing
    {
        public double Mean, Last;
        public int Scored, NegativesInARow, PositivesInARow;
        public bool Excluded;
        public long SeenRound;
        public Dictionary<ulong, long> Fingerprints { get; } = new();
    }

    /// <summary>Every partner judged so far (bounded), in name order.</summary>
    public IReadOnlyList<PartnerStanding> Standings => _standings.OrderBy(s => s.Key, StringComparer.Ordinal)
        .Select(s => new PartnerStanding(s.Key, s.Value.Mean, s.Value.Last, s.Value.Scored, s.Value.NegativesInARow, s.Value.Excluded)).ToArray();

    public IReadOnlyList<string> Excluded => _standings.Where(s => s.Value.Excluded).Select(s => s.Key).Order(StringComparer.Ordinal).ToArray();

    /// <summary>A 64-bit fingerprint of a vector's bytes (φ in a header, an update's body): one cheap pass over it.</summary>
    public static ulong Hash(ReadOnlySpan<float> values) => XxHash64.HashToUInt64(MemoryMarshal.AsBytes(values));

    public static ulong Hash(ReadOnlySpan<byte> bytes) => XxHash64.HashToUInt64(bytes);

    /// <summary>Remembers our φ fingerprint of <paramref name="round"/> and our own body, so neither comes back as a partner's.</summary>
    public void Sent(long round, ulong fingerprint, ulong body)
    {
        _ourFingerprints[round] = fingerprint;
        _bodies[body] = (round, "");
    }

    /// <summary>
    /// Judges the partners' updates of one exchange and returns those to apply (clipped or down-weighted copies where
    /// it changed them), the refusals, and each scored partner's score.
    /// </summary>
    public Verdicts Judge(ExchangeView x, IReadOnlyList<(string Peer, ReceivedUpdate Update)> received, Func<Tensor, double>? loss, Tensor phi, double stepScale)
    {
        var v = new Verdicts();
        double ownNorm = TensorPrimitives.Norm(x.OwnDelta);
        var candidates = new List<(string Peer, ReceivedUpdate U, float[] Delta, double Norm)>();
        var thisRound = new Dictionary<ulong, string>();
        foreach (var (peer, u) in received)
        {
            var standing = StandingOf(peer, x.Round);
            var delta = DeltaOf(x.Payload, x.Basis, u.Primary, u.Slow);
            string? reason = CheapCheck(x, peer, u, delta, standing, thisRound);
            standing.Fingerprints[u.Fingerprint] = x.Round;
            thisRound.TryAdd(u.Body, peer);
            if (reason is not null) { Negative(v, peer, standing, reason, double.NaN); continue; }
            candidates.Add((peer, u, delta, TensorPrimitives.Norm(delta)));
        }
        double median = Median(x.Round, ownNorm, candidates.Select(c => c.Norm));
        double? lossBefore = null, ownScore = null;
        foreach (var (peer, u, delta, norm) in candidates)
        {
            var standing = _standings[peer];
            if (norm < _options.FreeRiderFraction * median)
            {
                Negative(v, peer, standing, $"carries no work: norm {norm:G3}, the median of recent updates is {median:G3}", double.NaN);
                continue;
            }
            double weight = 1;
            if (norm > _options.ClipMultiple * median)
            {
                weight = _options.ClipMultiple * median / norm;
                v.Clipped.Add(peer);
            }
            TensorPrimitives.Multiply(delta, (float)weight, delta);
            double score = double.NaN;
            if (loss is not null)
            {
                lossBefore ??= loss(phi);
                score = Score(loss, phi, delta, stepScale, lossBefore.Value);
                v.Scores.Add((peer, score));
            }
            string? harm = null;
            if (score < -_options.Tolerance) harm = $"makes our held-out batch worse: score {score:G3} below -{_options.Tolerance:G3}";
            else if (loss is not null && _options.MinShare > 0)
            {
                ownScore ??= Score(loss, phi, x.OwnDelta, stepScale, lossBefore!.Value);
                if (ownScore > _options.Tolerance && score < _options.MinShare * ownScore)
                    harm = $"does not help our held-out batch: score {score:G3}, under {_options.MinShare:G3} of our own update's {ownScore:G3}";
            }
            if (harm is not null)
            {
                Negative(v, peer, standing, harm, score);
                if (!_options.DownWeight || standing.Excluded) continue;
                TensorPrimitives.Multiply(delta, (float)(_options.Tolerance / (_options.Tolerance + Math.Abs(score))), delta);
            }
            else Positive(v, peer, standing, score);
            if (standing.Excluded) { v.Refused.Add((peer, $"excluded after {_options.NegativesToExclude} negative scores in a row (score {score:G3})")); continue; }
            v.Accepted[peer] = u with { Primary = FromDelta(x.Payload, x.Basis, delta, u.Slow) };
        }
        _norms.Add((x.Round, ownNorm));
        _norms.AddRange(candidates.Select(c => (x.Round, c.Norm)));
        foreach (var (peer, u) in received) _bodies.TryAdd(u.Body, (x.Round, peer));
        Forget(x.Round);
        return v;
    }

    private string? CheapCheck(ExchangeView x, string peer, ReceivedUpdate u, float[] delta, Standing standing, Dictionary<ulong, string> thisRound)
    {
        if (u.Body == x.OwnBody) return "an echo of our own update";
        if (thisRound.TryGetValue(u.Body, out var first)) return $"a duplicate of {first}'s update";
        if (_bodies.TryGetValue(u.Body, out var seen) && seen.Round != x.Round) return $"a replay of an update of round {seen.Round}";
        if (standing.Fingerprints.TryGetValue(u.Fingerprint, out long claimed) && claimed != x.Round)
            return $"built from the same outer weights as its update of round {claimed} (stale or replayed)";
        if (x.SharedBase && u.Fingerprint != x.OwnFingerprint && _ourFingerprints.FirstOrDefault(f => f.Value == u.Fingerprint && f.Key != x.Round) is { Value: not 0 } ours)
            return $"built from our outer weights of round {ours.Key} (stale or replayed)";
        double own = TensorPrimitives.Norm(x.OwnDelta);
        if (own > 0 && TensorPrimitives.Distance(delta, x.OwnDelta) <= 1e-3 * own) return "equal to our own update (an echo)";
        return null;
    }

    /// <summary>s = (L(φ) − L(φ − c·Δ))/L(φ): the relative loss drop of a small step along the partner's update.</summary>
    private static double Score(Func<Tensor, double> loss, Tensor phi, float[] delta, double stepScale, double before)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var trial = phi - tensor(delta).to(phi.device).mul_(stepScale);
        double after = loss(trial);
        return double.IsFinite(after) && before > 0 ? (before - after) / before : double.NegativeInfinity;
    }

    private void Negative(Verdicts v, string peer, Standing s, string reason, double score)
    {
        Record(s, double.IsNaN(score) ? -1 : score);
        s.NegativesInARow++;
        s.PositivesInARow = 0;
        if (!s.Excluded && s.NegativesInARow >= _options.NegativesToExclude)
        {
            s.Excluded = true;
            v.NewlyExcluded.Add(peer);
        }
        v.Refused.Add((peer, reason));
    }

    private void Positive(Verdicts v, string peer, Standing s, double score)
    {
        if (!double.IsNaN(score)) Record(s, score);
        s.NegativesInARow = 0;
        if (score > 0 || double.IsNaN(score)) s.PositivesInARow++;
        else s.PositivesInARow = 0;
        // Readmitted after PositivesToReadmit positive scores in a row (without a scorer, passing every check counts):
        // a liar whose own weights drifted away sends updates that are no longer a lie about useful work, and now and
        // then one of them helps our batch by chance; an honest partner helps round after round.
        if (s.Excluded && s.PositivesInARow >= _options.PositivesToReadmit)
        {
            s.Excluded = false;
            v.Readmitted.Add(peer);
        }
    }

    private static void Record(Standing s, double score)
    {
        s.Last = score;
        s.Scored++;
        s.Mean += (score - s.Mean) / s.Scored;
    }

    private Standing StandingOf(string peer, long round)
    {
        if (!_standings.TryGetValue(peer, out var s))
        {
            if (_standings.Count >= 4 * peersMax)
                _standings.Remove(_standings.MinBy(p => p.Value.SeenRound).Key);
            _standings[peer] = s = new Standing();
        }
        s.SeenRound = round;
        return s;
    }

    /// <summary>The median of the recent rounds' norms and this round's (ours included): robust to a minority of liars.</summary>
    private double Median(long round, double own, IEnumerable<double> now)
    {
        var all = _norms.Where(n => n.Round > round - _options.HistoryRounds).Select(n => n.Norm).Append(own).Concat(now).Order().ToArray();
        return Math.Max(all[all.Length / 2], 1e-12);
    }

    private void Forget(long round)
    {
        long oldest = round - _options.HistoryRounds;
        _norms.RemoveAll(n => n.Round <= oldest);
        foreach (var old in _bodies.Where(b => b.Value.Round <= oldest).Select(b => b.Key).ToArray()) _bodies.Remove(old);
        foreach (var old in _ourFingerprints.Keys.Where(r => r <= oldest).ToArray()) _ourFingerprints.Remove(old);
        foreach (var s in _standings.Values)
            foreach (var old in s.Fingerprints.Where(f => f.Value <= oldest).Select(f => f.Key).ToArray()) s.Fingerprints.Remove(old);
    }

    /// <summary>The Δ an update implies relative to the φ it was built on: a pseudo-gradient is one; θ_j gives φ − θ_j.</summary>
    public static float[] DeltaOf(Payload payload, float[] basis, float[] primary, float[]? slow)
    {
        var delta = new float[primary.Length];
        if (IsDelta(payload)) primary.CopyTo(delta, 0);
        else
        {
            TensorPrimitives.Subtract(basis, primary, delta);
            if (payload == Payload.DeltaAndSlow) TensorPrimitives.Subtract(delta, slow!, delta);   // θ_j = Δ_j + φ_j
        }
        return delta;
    }

    /// <summary>True for the payloads whose primary vector is a Δ itself (pseudo-gradients, gradients, SparseLoCo's sparse Δ) rather than weights.</summary>
    private static bool IsDelta(Payload payload) => !payload.CarriesWeights() && payload != Payload.DeltaAndSlow;

    /// <summary>The inverse of <see cref="DeltaOf"/>: the payload's primary vector that implies <paramref name="delta"/>.</summary>
    private static float[] FromDelta(Payload payload, float[] basis, float[] delta, float[]? slow)
    {
        if (IsDelta(payload)) return delta;
        var primary = new float[delta.Length];
        TensorPrimitives.Subtract(basis, delta, primary);
        if (payload == Payload.DeltaAndSlow) TensorPrimitives.Subtract(primary, slow!, primary);
        return primary;
    }
}

/// <summary>A partner's decoded update, the φ fingerprint its header claims and the hash of its body.</summary>
internal sealed record ReceivedUpdate(float[] Primary, float[]? Slow, ulong Fingerprint, ulong Body);

/// <summary>
/// What the verifier needs of our own side of an exchange: the payload, the φ every update was built on
/// (<paramref name="Basis"/>), our own Δ, body hash and φ fingerprint, and whether every member shares φ (DiLoCo).
/// </summary>
internal sealed record ExchangeView(long Round, Payload Payload, float[] Basis, float[] OwnDelta, ulong OwnBody, ulong OwnFingerprint, bool SharedBase);

/// <summary>One exchange's judgement.</summary>
internal sealed class Verdicts
{
    public Dictionary<string, ReceivedUpdate> Accepted { get; } = new(StringComparer.Ordinal);
    public List<(string Peer, string Reason)> Refused { get; } = [];
    public List<(string Peer, double Score)> Scores { get; } = [];
    public List<string> Clipped { get; } = [];
    public List<string> NewlyExcluded { get; } = [];
    public List<string> Readmitted { get; } = [];
}
