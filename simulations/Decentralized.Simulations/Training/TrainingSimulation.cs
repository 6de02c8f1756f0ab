using System.Globalization;
using Decentralized.Node.Training;
using Decentralized.Simulations.Collectives;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Training;

/// <summary>
/// K replicas of a real TorchSharp model trained in virtual time. Each replica is a simulated process: an inner step
/// runs the real AdamW step inside an event and then sleeps for the compute model's step time; an outer round of
/// NoLoCo sends the real encoded blobs over <see cref="SimulatedPeerNetwork"/> streams to the partners (with a round
/// timeout, so a partitioned or crashed partner costs a timeout, not a hang); DiLoCo and DDP average through a ring
/// all-reduce timed message by message on the flow model, with the numerics of an exact average of the decoded
/// contributions (as <c>decentralized train</c> does). Wall-clock time of the computation never enters the results.
/// </summary>
public sealed partial class TrainingSimulation : IDisposable
{
    /// <summary>Protocol id of the simulated update exchange.</summary>
    public const string UpdateProtocol = "/decentralized/sim/update/1";

    private readonly SimTrainingOptions _options;
    private readonly ComparisonOptions _comparison;
    private readonly List<SimReplica> _peers = new();
    private readonly IReadOnlyList<long[]> _validation;
    private readonly WireCodec _codec;
    private readonly WireCodec _slowCodec = new("bf16");
    private readonly WireCodec _stateCodec = new("fp32");
    private readonly CollectiveRunner _collectives;
    private readonly Dictionary<Decentralized.Protocol.Identity.PeerId, int> _indexOf = new();
    private readonly List<string> _log = new();
    private readonly List<SimLossPoint> _curve = new();
    private readonly List<(long, double, double)> _spread = new();
    private readonly TextWriter? _progress;

    /// <summary>Builds the replicas (identical initial weights), their hosts and network views, all from the seed.</summary>
    public TrainingSimulation(SimTrainingOptions options, TrainingData data, TextWriter? progress = null)
    {
        _options = options.Validate();
        _comparison = options.ToComparison().Validate();
        _progress = progress;
        // The simulator is single-threaded and the models are tiny: intra-op threads only spin against each other
        // (measured here: 380 ms per step with 2 threads on a loaded 2-core machine, 7 ms with 1).
        if (torch.get_num_threads() > 1) torch.set_num_threads(1);
        var random = new DeterministicRandom(options.Seed);
        Scheduler = new SimulationScheduler();
        var replicas = Enumerable.Range(0, options.Replicas).Select(i => TorchGuard.Run(() => new LocalReplica(i, _comparison,
            data.ForReplica(options.Seed, i, options.Replicas, options.Inner.MicroBatchSize, options.Inner.SequenceLength), CPU))).ToArray();
        Parameters = replicas[0].Trainer.Flat.Count;
        BandwidthScale = options.RepresentedParameters > 0 ? (double)Parameters / options.RepresentedParameters : 1.0;
        var net = options.Network with
        {
            UplinkBitsPerSecond = options.Network.UplinkBitsPerSecond * BandwidthScale,
            DownlinkBitsPerSecond = options.Network.DownlinkBitsPerSecond * BandwidthScale,
        };
        Network = new SimulatedNetwork(Scheduler, net, random.Fork("network"));
        _random = random;
        for (int i = 0; i < options.Replicas; i++) AddPeer(replicas[i]);
        foreach (var p in _peers)
        {
            _live.Add(p.Index);
            foreach (var q in _peers.Where(q => q != p))
                p.Network.AddAddresses(q.Network.LocalPeer, q.Network.ListenAddresses);
        }
        _collectives = new CollectiveRunner(Scheduler, Network.Flow);
        _validation = data.Validation(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches);
        _codec = new WireCodec(options.Codec);
        _data = data;
    }

    /// <summary>Creates the process, network view and compute model of a replica and serves the update protocol.</summary>
    private SimReplica AddPeer(LocalReplica replica)
    {
        int index = _peers.Count;
        var host = new SimulatedHost(Scheduler, $"peer{index}");
        var peerNet = Network.CreatePeer(host);
        var peer = new SimReplica(index, replica, host, peerNet, new ComputeModel(_options.Compute, _random.Fork($"compute{index}")));
        _peers.Add(peer);
        _indexOf[peerNet.LocalPeer] = index;
        peerNet.SetStreamHandler(UpdateProtocol, (from, stream, ct) => HandleUpdateAsync(peer, from, stream, ct));
        peerNet.SetStreamHandler(StateProtocol, (from, stream, ct) => ServeStateAsync(peer, stream, ct));
        // A partner that disconnected will not deliver this round: stop waiting for it (a crash, a leave, a partition).
        peerNet.PeerDisconnected += remote =>
        {
            if (!_indexOf.TryGetValue(remote, out int q)) return;
            foreach (var slot in peer.Inbox.Where(kv => kv.Key.Sender == q).OrderBy(kv => kv.Key.Round).Select(kv => kv.Value).ToArray())
                slot.TrySetException(new IOException($"peer{q} disconnected"));
        };
        return peer;
    }

    /// <summary>The event loop (for fault injection and inspection).</summary>
    public SimulationScheduler Scheduler { get; }

    /// <summary>The simulated network.</summary>
    public SimulatedNetwork Network { get; }

    /// <summary>Each replica's network view, by replica index.</summary>
    public IReadOnlyList<SimulatedPeerNetwork> PeerNetworks => _peers.Select(p => p.Network).ToArray();

    /// <summary>Trained parameters per replica.</summary>
    public long Parameters { get; }

    /// <summary>Trained ÷ represented parameters: the factor applied to link capacities.</summary>
    public double BandwidthScale { get; }

    /// <summary>Called after each validation of replica 0.</summary>
    public Action<SimLossPoint>? OnEvaluation { get; set; }

    /// <summary>Runs <paramref name="action"/> at virtual time <paramref name="at"/> (partitions, crashes).</summary>
    public void At(TimeSpan at, Action action) => Scheduler.ScheduleAt(at, null, action);

    /// <summary>Slow weights φ of replica <paramref name="index"/> as an array (DDP: the weights).</summary>
    public float[] SlowWeights(int index) =>
        _peers[index].Replica.Slow is { } slow ? SimReplica.ToArray(slow) : _peers[index].FastWeights();

    /// <summary>Trains every replica to the end and returns the result.</summary>
    public SimTrainingResult Run()
    {
        double initial = TorchGuard.Run(() => _peers[0].Replica.Trainer.Evaluate(_validation));
        Log($"start replicas={_peers.Count} params={Parameters} algorithm={_options.Algorithm.Name()} codec={_codec.Spec} initial_val={F(initial)}");
        foreach (var p in _peers.ToArray()) StartLoop(p);
        ScheduleChurn();
        ScheduleObserver();
        try
        {
            Scheduler.RunUntilComplete(_allDone.Task);
        }
        catch (SimulationException e)
        {
            // Say where every peer stood: the first thing anyone replaying the seed wants to know.
            var where = string.Join("; ", _peers.Select(p => $"peer{p.Index} step {p.Step} round {p.Rounds}{(p.Departed ? " departed" : "")}{(p.LoopRunning ? "" : " done")}"));
            throw new SimulationException($"{e.Message} [{where}; open all-reduces: {string.Join(",", _barriers.Keys)}]", e.InnerException);
        }
        if (Scheduler.ForeignThreadPosts > 0)
            throw new SimulationException($"{Scheduler.ForeignThreadPosts} continuations escaped the event loop; the run would not replay");
        return BuildResult(initial);
    }

    private void StartLoop(SimReplica p)
    {
        _running++;
        p.LoopRunning = true;
        p.Host.Start(async () =>
        {
            try
            {
                if (_options.Algorithm == Algorithm.Ddp) await DdpLoopAsync(p);
                else await OuterLoopAsync(p);
            }
            catch (Exception e)
            {
                // A peer's loop must never die silently: the run would wait for it forever.
                _allDone.TrySetException(new SimulationException($"peer{p.Index} failed at step {p.Step}: {e.Message}", e));
                return;
            }
            if (!p.LoopRunning) return;   // departed meanwhile: already counted
            p.LoopRunning = false;
            p.FinishedAt = Scheduler.Now;
            Log($"peer{p.Index} finished steps={p.Step} rounds={p.Rounds}");
            LoopEnded();
        });
    }

    /// <summary>A loop finished (or its peer crashed or left); the run ends when none runs and no churn event is pending.</summary>
    private void LoopEnded()
    {
        _running--;
        if (_running <= 0 && _pendingChurn == 0) _allDone.TrySetResult();
    }

    /// <summary>Runs one real inner step, then lets the step's virtual duration pass.</summary>
    private async Task InnerStepAsync(SimReplica p, bool gradientsOnly = false)
    {
        p.LastTrainLoss = TorchGuard.Run(() => gradientsOnly ? p.Replica.ComputeGradients() : p.Replica.TrainStep());
        var duration = p.Compute.NextStepTime();
        p.ComputeSeconds += duration.TotalSeconds;
        await Task.Delay(duration, p.Host.Time);
    }

    private void MaybeEvaluate(SimReplica p)
    {
        if (_options.EvalInterval is not null || p.Index != 0 || _options.EvalEvery == 0 || p.Step % _options.EvalEvery != 0 || p.Step == _options.StepsPerReplica) return;
        Evaluate(p);
    }

    private void Evaluate(SimReplica p)
    {
        double val = TorchGuard.Run(() => p.Replica.Trainer.Evaluate(_validation));
        long tokens = _options.EvalInterval is null ? p.Step * TokensPerReplicaStep * _options.Replicas : _peers.Sum(q => q.Step) * TokensPerReplicaStep;
        var point = new SimLossPoint(p.Step, tokens, Scheduler.Now.TotalSeconds, val, p.LastTrainLoss);
        _curve.Add(point);
        OnEvaluation?.Invoke(point);
        _progress?.WriteLine(FormattableString.Invariant(
            $"  {_options.Algorithm.Name(),-7} {_codec.Spec,-14} step {p.Step,5}  t={Scheduler.Now.TotalSeconds,9:0.0}s  val {val:0.0000}"));
    }

    private long TokensPerReplicaStep => (long)_options.Inner.MicroBatchSize * _options.Inner.SequenceLength * _options.Inner.AccumulationSteps;

    private SimTrainingResult BuildResult(double initial)
    {
        var live = _peers.Where(p => _live.Contains(p.Index)).ToArray();
        if (live.Length == 0) live = _peers.ToArray();
        var final = live.Average(p => TorchGuard.Run(() => p.Replica.Trainer.Evaluate(_validation)));
        var last = live[0];
        double end = _peers.Max(p => p.FinishedAt.TotalSeconds);
        long tokensEnd = _options.EvalInterval is null ? last.Step * TokensPerReplicaStep * _options.Replicas : _peers.Sum(p => p.Step) * TokensPerReplicaStep;
        _curve.Add(new SimLossPoint(last.Step, tokensEnd, _options.EvalInterval is null ? last.FinishedAt.TotalSeconds : end, final, last.LastTrainLoss));
        var reports = _peers.Select(p => new SimPeerReport(p.Index, p.Compute.Gpu.Name, p.ComputeSeconds, p.IdleSeconds,
            Network.Flow.BytesSent(p.Network.Node), p.Rounds)).ToArray();
        long bytes = (long)reports.Average(r => (double)r.BytesSent);
        Log($"end val={F(final)} sim_s={F(end)} bytes_per_replica={bytes}");
        return new SimTrainingResult
        {
            Algorithm = _options.Algorithm.Name(),
            Codec = _options.Algorithm == Algorithm.Ddp ? "fp32" : _codec.Spec,
            Replicas = _options.Replicas,
            Parameters = Parameters,
            Tokens = _peers.Sum(p => p.Step) * TokensPerReplicaStep,
            InitialValidationLoss = initial,
            FinalValidationLoss = final,
            SimSeconds = end,
            BytesSentPerReplica = bytes,
            RepresentedBytesPerReplica = bytes / BandwidthScale,
            IdleFraction = reports.Average(r => r.IdleSeconds / Math.Max(1e-9, r.IdleSeconds + r.ComputeSeconds)),
            ReplicaSpread = Spread(live.Select(p => p.FastWeights()).ToArray()),
            Curve = _curve.ToArray(),
            SpreadCurve = _spread.ToArray(),
            Peers = reports,
            EventLog = _log.ToArray(),
            FinalWeights = _peers.Select(p => p.FastWeights()).ToArray(),
            Churn = _churnLog.ToArray(),
        };
    }

    /// <summary>Mean relative L2 distance of each vector from the vectors' mean.</summary>
    internal static double Spread(IReadOnlyList<float[]> weights)
    {
        if (weights.Count < 2) return 0;
        int n = weights[0].Length;
        var mean = new double[n];
        foreach (var w in weights) for (int i = 0; i < n; i++) mean[i] += w[i];
        double norm = 0;
        for (int i = 0; i < n; i++) { mean[i] /= weights.Count; norm += mean[i] * mean[i]; }
        norm = Math.Sqrt(norm);
        double total = 0;
        foreach (var w in weights)
        {
            double d = 0;
            for (int i = 0; i < n; i++) { double x = w[i] - mean[i]; d += x * x; }
            total += Math.Sqrt(d) / Math.Max(norm, 1e-30);
        }
        return total / weights.Count;
    }

    private void Log(string line) => _log.Add(FormattableString.Invariant($"{Scheduler.Now.TotalSeconds:0.000000} {line}"));

    private static string F(double v) => v.ToString("0.000000", CultureInfo.InvariantCulture);

    /// <summary>Disposes the replicas' tensors.</summary>
    public void Dispose()
    {
        foreach (var p in _peers) p.Dispose();
    }
}
