using System.Diagnostics;
using Decentralized.Node.Rounds;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Runs K replicas of one algorithm in this process, with no network, counting exactly the bytes each
/// replica sends. The outer rounds run on the daemon's round engine over an in-memory loopback: the same
/// updates, the same codecs, the same steps, so the losses are those the swarm would see. Steps are
/// deterministic on CPU, so a run can stop and resume bit for bit.
/// </summary>
public sealed class LocalComparison : IDisposable
{
    private readonly ComparisonOptions _options;
    private readonly IUpdateCodec[] _updateCodecs;
    private readonly IUpdateCodec[] _weightsCodecs;
    private readonly RoundLoopback? _loopback;
    /// <summary>DDP's steps and the synchronous warm-up's: one <see cref="SynchronousMethod"/> engine per replica (null for K = 1).</summary>
    private readonly RoundLoopback? _synchronous;
    private readonly List<IDisposable> _owned = new();
    private readonly IReadOnlyList<long[]> _validation;
    private readonly List<LossPoint> _curve = new();
    private readonly Stopwatch _clock = new();
    private double _lastTrainLoss = double.NaN;
    private double _averagedWeightsLoss = double.NaN;
    private double _elapsedBefore;

    public LocalComparison(ComparisonOptions options, Func<int, IBatchSource> dataForReplica,
        IReadOnlyList<long[]> validation, string codecSpec, Device device, string? weightsSpec = null, Export.InitialWeights? initial = null)
    {
        _options = options.Validate();
        _validation = validation;
        Replicas = Enumerable.Range(0, options.Replicas).Select(i => new LocalReplica(i, options, dataForReplica(i), device, initial)).ToArray();
        Anchor = Replicas[0].Trainer.Flat.Snapshot().DetachFromDisposeScope();
        // Each replica owns its codecs, as each daemon does: error-feedback residuals are per sender.
        _updateCodecs = Replicas.Select(r => (IUpdateCodec)new ChainUpdateCodec(codecSpec, r.Trainer.Flat)).ToArray();
        _weightsCodecs = Replicas.Select(r => (IUpdateCodec)new ChainUpdateCodec(weightsSpec ?? WeightsChain.Default, r.Trainer.Flat)).ToArray();
        // Replicas in one process are all honest: no norm bound (a daemon keeps its own against strangers).
        var rounds = new RoundOptions
        {
            Seed = options.Seed,
            Payload = options.Algorithm == Algorithm.NoLoCo ? options.NoLoCoWire : null,   // DiLoCo always sends Δ
            UpdateNormBound = double.PositiveInfinity,
        };
        if (options.Replicas > 1 && (options.Algorithm == Algorithm.Ddp || options.SyncWarmupSteps > 0))
            _synchronous = SynchronousLoopback(rounds with { Payload = null }, device);
        if (options.Algorithm == Algorithm.Ddp) return;
        foreach (var r in Replicas)
            r.Attach(new RoundEngine(NameOf(r.Index), r.Outer!, new RoundCodecs(_updateCodecs[r.Index], new ChainUpdateCodec("bf16", r.Trainer.Flat),
                _weightsCodecs[r.Index]), rounds, TimeProvider.System));
        _loopback = new RoundLoopback(Replicas.Select(r => r.Engine!).ToArray(), Replicas.Select(r => NameOf(r.Index)).ToArray());
    }

    /// <summary>The gradients' all-gather: per replica a synchronous engine on the replica's own update chain (the daemon's warm-up).</summary>
    private RoundLoopback SynchronousLoopback(RoundOptions rounds, Device device)
    {
        var engines = Replicas.Select(r =>
        {
            var method = new SynchronousMethod(r.Trainer.Flat.Count, device);
            var engine = new RoundEngine(NameOf(r.Index), method, new RoundCodecs(_updateCodecs[r.Index], _updateCodecs[r.Index], _weightsCodecs[r.Index]),
                rounds, TimeProvider.System);
            _owned.Add(engine);
            _owned.Add(method);
            return engine;
        }).ToArray();
        return new RoundLoopback(engines, Replicas.Select(r => NameOf(r.Index)).ToArray());
    }

    /// <summary>A replica's member name: zero-padded, so the engine's ordinal order is the replicas' order.</summary>
    private static string NameOf(int index) => $"replica{index:D3}";

    /// <summary>
    /// Weights every replica held at the same moment (the start, or the end of the synchronous warm-up): the
    /// reference the anchored NoLoCo payload is coded against. Saved in checkpoints.
    /// </summary>
    public Tensor Anchor { get; }

    public IReadOnlyList<LocalReplica> Replicas { get; }

    /// <summary>The exchange's chain and the anchored weights' chain, one codec per replica, whose error-feedback residuals a checkpoint keeps.</summary>
    internal IEnumerable<IReadOnlyList<IUpdateCodec>> CodecsByChain => [_updateCodecs, _weightsCodecs];

    /// <summary>The exchange's codec chain, normalised (e.g. <c>q4:bf16+ef+ans</c>).</summary>
    public string CodecSpec => _updateCodecs[0].Spec;

    /// <summary>Bytes each replica has sent and received in outer rounds (the synchronous steps are in <see cref="BytesSentPerReplica"/> only).</summary>
    public RoundLoopback? Loopback => _loopback;

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
    /// DDP (and the synchronous warm-up): every replica's gradient is replaced by the mean of what the others decode
    /// of it through its codec chain (exact for fp32; with error feedback for lossy chains), all-gathered on the
    /// round engine as the daemon's warm-up does, then all take the same AdamW step. Bytes: DDP is charged a ring
    /// all-reduce (the baseline at its cheapest), the warm-up what the daemon sends ((K-1) blobs per replica).
    /// </summary>
    private double SynchronousStep()
    {
        double loss = Replicas.Average(r => r.ComputeGradients());
        if (_synchronous is not null)
        {
            using var scope = NewDisposeScope();
            var gradients = Replicas.Select(r => r.Trainer.Flat.GradientSnapshot()).ToArray();
            foreach (var engine in _synchronous.Members) engine.RestoreRound(Step);   // the step is the round: codec seeds follow it
            long most = _synchronous.Round(gradients, last: false, (i, mean) => Replicas[i].Trainer.Flat.AssignGradients(mean));
            BytesSentPerReplica += _options.Algorithm == Algorithm.Ddp
                ? RingAllReduce.BytesSentPerReplica(most / (Replicas.Count - 1), Replicas.Count)
                : most;
        }
        foreach (var r in Replicas) r.Trainer.ApplyUpdate();
        // The warm-up's end restarts the outer state (φ and the anchor) from the synchronised weights.
        if (Step + 1 == _options.SyncWarmupSteps && _options.Algorithm != Algorithm.Ddp)
        {
            using var w = Replicas[0].Trainer.Flat.Snapshot();
            foreach (var r in Replicas) r.Engine!.Restart(w);
            Anchor.copy_(w);
        }
        return loss;
    }

    /// <summary>
    /// One outer round of every replica on its round engine, over the loopback: DiLoCo's all-gather of Δ_i, or
    /// NoLoCo's exchange within random groups; the run's last round consolidates (each takes its group's average).
    /// </summary>
    private void OuterRound()
    {
        using var scope = NewDisposeScope();
        var fast = Replicas.Select(r => r.Trainer.Flat.Snapshot()).ToArray();
        BytesSentPerReplica += _loopback!.Round(fast, last: AtEnd, (i, next) => Replicas[i].Trainer.Flat.Assign(next));
    }

    private string Exchange => _options.Algorithm switch
    {
        Algorithm.Ddp => "gradients",
        Algorithm.DiLoCo => "pseudo-gradients",
        Algorithm.SparseLoCo => $"sparse accumulator ({Replicas[0].Outer!.OwnCodec!.Spec}{(_options.SparseLoCo.GroupSize > 0 ? $", groups of {_options.SparseLoCo.GroupSize}" : "")})",
        _ => Replicas[0].Engine!.Payload switch
        {
            Payload.FastWeights => "fast weights",
            Payload.DeltaAndSlow => "delta + bf16 slow weights",
            _ => $"fast weights minus anchor ({_weightsCodecs[0].Spec})",
        },
    };

    private void Evaluate(bool allReplicas)
    {
        // DDP and DiLoCo replicas hold identical weights after a round; NoLoCo's differ, so the end averages all.
        var evaluated = allReplicas ? Replicas : Replicas.Take(1);
        double val = evaluated.Average(r => r.Trainer.Evaluate(_validation));
        // SparseLoCo's gossip variant drifts apart as NoLoCo does; all-to-all keeps one φ.
        bool drift = _options.Algorithm == Algorithm.NoLoCo || (_options.Algorithm == Algorithm.SparseLoCo && _options.SparseLoCo.GroupSize > 0);
        if (allReplicas) _averagedWeightsLoss = drift && Replicas.Count > 1 ? AveragedWeightsLoss() : val;
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
            _options.Algorithm == Algorithm.Ddp ? 1 : _options.InnerStepsPerRound, CodecSpec,
            Replicas[0].Trainer.Flat.Count, Step * TokensPerStep, last?.ValidationLoss ?? double.NaN, _lastTrainLoss,
            BytesSentPerReplica, wall, wall > 0 ? Step * TokensPerStep / wall : 0, ReplicaSpread(), _averagedWeightsLoss,
            Exchange, _options.Algorithm == Algorithm.Ddp ? 0 : _options.SyncWarmupSteps,
            _validation.Count * (long)_options.Inner.MicroBatchSize * _options.Inner.SequenceLength, _curve.ToArray())
        {
            Init = _options.Init.ToString(),
            InnerOptimizer = _options.Inner.Optimizer.Name(),
            MuonLearningRate = _options.Inner.EffectiveMuonLearningRate,
        };
    }

    /// <summary>Restores the loop position from a checkpoint (replica states are restored by the checkpoint itself).</summary>
    internal void RestoreProgress(long step, long bytesSent, double elapsedSeconds, IEnumerable<LossPoint> curve)
    {
        Step = step;
        BytesSentPerReplica = bytesSent;
        _elapsedBefore = elapsedSeconds;
        _curve.Clear();
        _curve.AddRange(curve);
        var anchor = RoundEngine.Cpu(Anchor);
        foreach (var r in Replicas) r.Engine?.RestoreAnchor(anchor);
    }

    internal double ElapsedSeconds => _elapsedBefore + _clock.Elapsed.TotalSeconds;

    public void Dispose()
    {
        Anchor.Dispose();
        foreach (var o in _owned) o.Dispose();
        foreach (var r in Replicas) r.Dispose();
    }
}
