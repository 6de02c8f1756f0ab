using System.Diagnostics;
using Decentralized.Node.Outer;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Runs K replicas of one algorithm in this process, with no network, counting exactly the bytes each
/// replica would send. Pseudo-gradients pass through the real codec chain, so the losses are those the
/// swarm would see. Steps are deterministic on CPU, so a run can stop and resume bit for bit.
/// </summary>
public sealed class LocalComparison : IDisposable
{
    private readonly ComparisonOptions _options;
    private readonly IVectorCodec _codec;
    private readonly IVectorCodec _weightsCodec;
    private readonly IReadOnlyList<long[]> _validation;
    private readonly List<LossPoint> _curve = new();
    private readonly Stopwatch _clock = new();
    private double _lastTrainLoss = double.NaN;
    private double _averagedWeightsLoss = double.NaN;
    private double _elapsedBefore;

    public LocalComparison(ComparisonOptions options, Func<int, IBatchSource> dataForReplica,
        IReadOnlyList<long[]> validation, IVectorCodec codec, Device device, IVectorCodec? weightsCodec = null, Export.InitialWeights? initial = null)
    {
        _options = options.Validate();
        _codec = codec;
        _weightsCodec = weightsCodec ?? new ChainVectorCodec(WeightsChain.Default);
        _validation = validation;
        Replicas = Enumerable.Range(0, options.Replicas).Select(i => new LocalReplica(i, options, dataForReplica(i), device, initial)).ToArray();
        Anchor = Replicas[0].Trainer.Flat.Snapshot().DetachFromDisposeScope();
    }

    /// <summary>
    /// Weights every replica held at the same moment (the start, or the end of the synchronous warm-up): the
    /// reference the anchored NoLoCo payload is coded against. Saved in checkpoints.
    /// </summary>
    public Tensor Anchor { get; }

    public IReadOnlyList<LocalReplica> Replicas { get; }

    /// <summary>The exchange's codec and the anchored weights' codec, whose error-feedback residuals a checkpoint keeps.</summary>
    internal IEnumerable<IVectorCodec> Codecs => [_codec, _weightsCodec];

    public long Step { get; private set; }
    public long BytesSentPerReplica { get; private set; }
    public IReadOnlyList<LossPoint> Curve => _curve;
    public long TokensPerStep => (long)_options.Replicas * _options.Inner.MicroBatchSize * _options.Inner.SequenceLength * _options.Inner.AccumulationSteps;

    /// <summary>Called after every step with (step, train loss); after every evaluation with its point.</summary>
    public Action<long, double>? OnStep { get; set; }
    public Action<LossPoint>? OnEvaluation { get; set; }

    /// <summary>Runs until <see cref="ComparisonOptions.StepsPerReplica"/> or until <paramref name="stopAfter"/> steps; returns the result so far.</summary>
    public ComparisonResult Run(long? stopAfter = null, CancellationToken cancel = default)
    {
        _clock.Restart();
        long end = Math.Min(_options.StepsPerReplica, stopAfter ?? long.MaxValue);
        while (Step < end && !cancel.IsCancellationRequested)
        {
            _lastTrainLoss = IsSynchronous(Step) ? SynchronousStep() : LocalStep();
            Step++;
            if (!IsSynchronous(Step - 1) && Step % _options.InnerStepsPerRound == 0) OuterRound();
            OnStep?.Invoke(Step, _lastTrainLoss);
            // The run's end, or where --stop-after stops it, reports every replica; a cancelled run exits fast.
            bool last = Step == end;
            if (last || (_options.EvalEvery > 0 && Step % _options.EvalEvery == 0)) Evaluate(allReplicas: last);
        }
        _elapsedBefore += _clock.Elapsed.TotalSeconds;
        _clock.Reset();
        return Result();
    }

    /// <summary>The run has taken all its steps: the last round consolidates.</summary>
    private bool AtEnd => Step == _options.StepsPerReplica;

    private bool IsSynchronous(long step) => _options.Algorithm == Algorithm.Ddp || step < _options.SyncWarmupSteps;

    private double LocalStep() => Replicas.Average(r => r.TrainStep());

    /// <summary>
    /// DDP (and the synchronous warm-up): every replica's gradient is replaced by the mean of what the others
    /// would receive through the codec chain (exact for fp32; with error feedback for lossy chains), then all
    /// take the same AdamW step.
    /// </summary>
    private double SynchronousStep()
    {
        double loss = Replicas.Average(r => r.ComputeGradients());
        if (Replicas.Count > 1)
        {
            using var scope = NewDisposeScope();
            var mean = AllReduceMean(r => r.Trainer.Flat.GradientSnapshot(), "grad", (int)Step);
            foreach (var r in Replicas) r.Trainer.Flat.AssignGradients(mean);
        }
        foreach (var r in Replicas) r.Trainer.ApplyUpdate();
        // The warm-up's end restarts the outer state from the synchronised weights.
        if (Step + 1 == _options.SyncWarmupSteps && _options.Algorithm != Algorithm.Ddp)
        {
            using var w = Replicas[0].Trainer.Flat.Snapshot();
            foreach (var r in Replicas) r.Slow!.copy_(w);
            Anchor.copy_(w);
        }
        return loss;
    }

    /// <summary>
    /// The mean of one vector per replica as a ring all-reduce would deliver it: each passes the codec chain
    /// (residuals kept per replica and stream), and every replica is charged the all-reduce's bytes.
    /// </summary>
    private Tensor AllReduceMean(Func<LocalReplica, Tensor> vectorOf, string stream, int seed)
    {
        Tensor? sum = null;
        long bytes = 0;
        foreach (var r in Replicas)
        {
            using var vector = vectorOf(r);
            var (decoded, size) = _codec.RoundTrip(vector, r.Index, stream, seed);
            bytes = Math.Max(bytes, size);
            sum = sum is null ? decoded : sum.add_(decoded);
        }
        BytesSentPerReplica += RingAllReduce.BytesSentPerReplica(bytes, Replicas.Count);
        return sum!.div_(Replicas.Count);
    }

    private void OuterRound()
    {
        using var scope = NewDisposeScope();
        if (_options.Algorithm == Algorithm.DiLoCo) DiLoCoRound();
        else NoLoCoRound();
        foreach (var r in Replicas) r.RestartFromSlow();
    }

    /// <summary>DiLoCo: Δ = mean of the decoded Δ_i (an all-reduce), the same outer step everywhere.</summary>
    private void DiLoCoRound()
    {
        var mean = AllReduceMean(r =>
        {
            using var fast = r.Trainer.Flat.Snapshot();
            return r.DiLoCo!.PseudoGradient(fast);
        }, "delta", (int)Replicas[0].OuterRound);
        // The run's last round hands the user the replicas' average (same bytes: it is φ minus the mean Δ).
        foreach (var r in Replicas)
            if (AtEnd) r.DiLoCo!.Consolidate(mean);
            else r.DiLoCo!.Step(mean);
    }

    /// <summary>NoLoCo: random groups from (seed, round); each member steps on what its partners sent.</summary>
    private void NoLoCoRound()
    {
        long round = Replicas[0].OuterRound;
        var payload = NoLoCoWire;
        bool fastOnly = payload != NoLoCoPayload.DeltaAndSlow;
        var fast = Replicas.Select(r => r.Trainer.Flat.Snapshot()).ToArray();
        var sent = new (Tensor A, Tensor? B)[Replicas.Count];
        var own = new (Tensor A, Tensor? B)[Replicas.Count];
        long bytesMax = 0;
        var groups = NoLoCoPairing.Groups(Replicas.Count, _options.Seed, round, _options.NoLoCo.GroupSize);
        foreach (var r in Replicas)
        {
            int partners = groups.First(g => g.Contains(r.Index)).Length - 1;
            long bytes;
            if (payload == NoLoCoPayload.FastWeights)
            {
                own[r.Index] = (fast[r.Index], null);
                (sent[r.Index].A, bytes) = _codec.RoundTrip(fast[r.Index], r.Index, "fast", (int)round);
            }
            else if (payload == NoLoCoPayload.AnchoredFast)
            {
                own[r.Index] = (fast[r.Index], null);
                using var offset = fast[r.Index] - Anchor;
                var (decoded, size) = _weightsCodec.RoundTrip(offset, r.Index, "anchored", (int)round);
                sent[r.Index] = (decoded.add_(Anchor), null);
                bytes = size;
            }
            else
            {
                var delta = r.NoLoCo!.Delta(fast[r.Index]);
                own[r.Index] = (delta, r.NoLoCo.Slow);
                var (d, db) = _codec.RoundTrip(delta, r.Index, "delta", (int)round);
                var slowBf16 = r.NoLoCo.Slow.to(bfloat16).to(float32);   // φ_j travels in bf16
                sent[r.Index] = (d, slowBf16);
                bytes = db + r.NoLoCo.Slow.numel() * 2;
            }
            bytesMax = Math.Max(bytesMax, bytes * partners);
        }
        foreach (var group in groups)
            foreach (int i in group)
            {
                var members = group.Select(j => j == i ? own[j] : sent[j]).ToArray();
                // The run's last round hands each replica its group's average, as DiLoCo's does (θ_j = Δ_j + φ_j).
                if (AtEnd) Replicas[i].NoLoCo!.Consolidate(members.Select(m => fastOnly ? m.A : m.A + m.B!).ToArray());
                else if (fastOnly) Replicas[i].NoLoCo!.StepFromFast(members.Select(m => m.A).ToArray());
                else Replicas[i].NoLoCo!.Step(members.Select(m => m.A).ToArray(), members.Select(m => m.B!).ToArray());
            }
        BytesSentPerReplica += bytesMax;
    }

    /// <summary>NoLoCo's payload for this run: as asked, else θ for lossless chains and anchored θ for lossy ones; γ ≠ β needs Δ and φ.</summary>
    private NoLoCoPayload NoLoCoWire =>
        _options.NoLoCo.EffectiveGamma != _options.NoLoCo.Beta ? NoLoCoPayload.DeltaAndSlow
        : _options.NoLoCoWire ?? (_codec.IsLossless ? NoLoCoPayload.FastWeights : NoLoCoPayload.AnchoredFast);

    private string Exchange => _options.Algorithm switch
    {
        Algorithm.Ddp => "gradients",
        Algorithm.DiLoCo => "pseudo-gradients",
        _ => NoLoCoWire switch
        {
            NoLoCoPayload.FastWeights => "fast weights",
            NoLoCoPayload.DeltaAndSlow => "delta + bf16 slow weights",
            _ => $"fast weights minus anchor ({_weightsCodec.Spec})",
        },
    };

    private void Evaluate(bool allReplicas)
    {
        // DDP and DiLoCo replicas hold identical weights after a round; NoLoCo's differ, so the end averages all.
        var evaluated = allReplicas ? Replicas : Replicas.Take(1);
        double val = evaluated.Average(r => r.Trainer.Evaluate(_validation));
        if (allReplicas) _averagedWeightsLoss = _options.Algorithm == Algorithm.NoLoCo && Replicas.Count > 1 ? AveragedWeightsLoss() : val;
        var point = new LossPoint(Step, Step * TokensPerStep, val, _lastTrainLoss, _elapsedBefore + _clock.Elapsed.TotalSeconds);
        _curve.Add(point);
        OnEvaluation?.Invoke(point);
    }

    /// <summary>
    /// Validation loss of the replicas' averaged weights: the model one final all-reduce would hand a user of a
    /// NoLoCo run, whose replicas never agree exactly. Borrows replica 0's model and puts its weights back.
    /// </summary>
    private double AveragedWeightsLoss()
    {
        using var scope = NewDisposeScope();
        var weights = Replicas.Select(r => r.Trainer.Flat.Snapshot()).ToArray();
        var flat = Replicas[0].Trainer.Flat;
        flat.Assign(stack(weights).mean(new long[] { 0 }));
        double loss = Replicas[0].Trainer.Evaluate(_validation);
        flat.Assign(weights[0]);
        return loss;
    }

    /// <summary>Mean relative L2 distance of each replica's weights from the replicas' mean.</summary>
    public double ReplicaSpread()
    {
        if (Replicas.Count < 2) return 0;
        using var scope = NewDisposeScope();
        var weights = Replicas.Select(r => r.Trainer.Flat.Snapshot()).ToArray();
        var mean = stack(weights).mean(new long[] { 0 });
        double norm = mean.norm().item<float>();
        return weights.Average(w => (w - mean).norm().item<float>() / norm);
    }

    public ComparisonResult Result()
    {
        var last = _curve.Count > 0 ? _curve[^1] : null;
        double wall = _elapsedBefore + _clock.Elapsed.TotalSeconds;
        return new ComparisonResult(_options.Algorithm.Name(), _options.Replicas,
            _options.Algorithm == Algorithm.Ddp ? 1 : _options.InnerStepsPerRound, _codec.Spec,
            Replicas[0].Trainer.Flat.Count, Step * TokensPerStep, last?.ValidationLoss ?? double.NaN, _lastTrainLoss,
            BytesSentPerReplica, wall, wall > 0 ? Step * TokensPerStep / wall : 0, ReplicaSpread(), _averagedWeightsLoss,
            Exchange, _options.Algorithm == Algorithm.Ddp ? 0 : _options.SyncWarmupSteps,
            _validation.Count * (long)_options.Inner.MicroBatchSize * _options.Inner.SequenceLength, _curve.ToArray());
    }

    /// <summary>Restores the loop position from a checkpoint (replica states are restored by the checkpoint itself).</summary>
    internal void RestoreProgress(long step, long bytesSent, double elapsedSeconds, IEnumerable<LossPoint> curve)
    {
        Step = step;
        BytesSentPerReplica = bytesSent;
        _elapsedBefore = elapsedSeconds;
        _curve.Clear();
        _curve.AddRange(curve);
    }

    internal double ElapsedSeconds => _elapsedBefore + _clock.Elapsed.TotalSeconds;

    public void Dispose()
    {
        Anchor.Dispose();
        foreach (var r in Replicas) r.Dispose();
    }
}
