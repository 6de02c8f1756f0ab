using Decentralized.Node.Rounds;
using Decentralized.Node.Model;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Swarm;

/// <summary>
/// Runs the daemon's swarm logic, <see cref="SwarmPeer"/> exactly as <c>node run</c> builds it, on the simulated
/// network: membership gossip, pairing, update transfers with their codecs and limits, adaptive deadlines, state sync
/// of joiners. Only the process, the links and the GPU are simulated: each peer is a <see cref="SimulatedHost"/> whose
/// clock drives every timeout of the peer, its inner steps take the compute model's virtual time, and a crash stops it
/// the way a killed process stops. The same seed replays the same log lines and final weights. Every training
/// scenario runs here: the outer rounds are the daemon's (and <c>train</c>'s) round engine, never a copy.
/// </summary>
public sealed class SwarmSimulation : IAsyncDisposable
{
    private readonly SwarmSimulationOptions _options;
    private readonly TrainingData _data;
    private readonly DeterministicRandom _random;
    private readonly IReadOnlyList<long[]> _validation;
    private readonly IReadOnlyList<long[]>? _scoring;
    private readonly List<SimulatedSwarmPeer> _peers = [];
    private readonly TextWriter? _echo;
    private readonly PrivateKey[] _starterKeys;
    private readonly List<SwarmLossPoint> _curve = [];
    private readonly List<(double SimSeconds, string Kind, int Peer, int Live)> _membership = [];

    public SwarmSimulation(SwarmSimulationOptions options, TrainingData data, TextWriter? echo = null)
    {
        _options = options.Validate();
        _data = data;
        _echo = echo;
        // One thread: the loop is single-threaded and intra-op threads only spin against each other on a tiny model.
        if (torch.get_num_threads() > 1) torch.set_num_threads(1);
        _random = new DeterministicRandom(options.Seed);
        Scheduler = new SimulationScheduler();
        using (var probe = new ModelStage(options.Model, seed: options.Seed))
            Parameters = probe.parameters().Sum(p => p.numel());
        // The tiny model's real bytes take as long on the scaled links as the represented model's would on the real ones.
        double scale = options.RepresentedParameters > 0 ? (double)Parameters / options.RepresentedParameters : 1.0;
        var net = options.Network with
        {
            UplinkBitsPerSecond = options.Network.UplinkBitsPerSecond * scale,
            DownlinkBitsPerSecond = options.Network.DownlinkBitsPerSecond * scale,
        };
        Network = new SimulatedNetwork(Scheduler, net, _random.Fork("network"));
        _validation = data.Validation(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches);
        // The batch verification scores partners on, past the validation batches; built only when it is on.
        _scoring = options.Verify is null ? null : data.HeldOut(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches, 1);
        // Peer i is the i-th member in the round engine's (ordinal) order, as replica i is in `train`: with the same
        // shards the same groups form, so a run without faults ends where `train` ends.
        var keys = _random.Fork("starter-keys");
        _starterKeys = Enumerable.Range(0, options.Peers).Select(_ =>
        {
            var seed = new byte[PrivateKey.SeedSize];
            keys.NextBytes(seed);
            return PrivateKey.FromSeed(seed);
        }).OrderBy(k => k.PeerId.ToString(), StringComparer.Ordinal).ToArray();
    }

    public SimulationScheduler Scheduler { get; }

    /// <summary>Parameters of the trained model.</summary>
    public long Parameters { get; }
    public SimulatedNetwork Network { get; }

    /// <summary>Every log line of every peer, in order, stamped with virtual time.</summary>
    public List<string> Log { get; } = [];

    /// <summary>Every peer that ran, in start order (joiners after the starting peers).</summary>
    public IReadOnlyList<SimulatedSwarmPeer> Peers => _peers;

    /// <summary>Validation loss of the shared initial weights (every peer starts from the swarm seed's model).</summary>
    public double InitialValidationLoss { get; private set; } = double.NaN;

    /// <summary>Validation after every outer round of the lowest-numbered peer still in the swarm.</summary>
    public IReadOnlyList<SwarmLossPoint> Curve => _curve;

    /// <summary>Called with each point of <see cref="Curve"/>.</summary>
    public Action<SwarmLossPoint>? OnEvaluation { get; set; }

    /// <summary>Joins (once the state arrived), leaves and crashes: virtual seconds, what, peer index, peers in the swarm after.</summary>
    public IReadOnlyList<(double SimSeconds, string Kind, int Peer, int Live)> Membership => _membership;

    private long TokensPerStep => (long)_options.Inner.MicroBatchSize * _options.Inner.SequenceLength * _options.Inner.AccumulationSteps;

    /// <summary>Starts the swarm, crashes and joins on schedule, and runs until every surviving peer finished its rounds.</summary>
    public SwarmSimulationResult Run()
    {
        for (int i = 0; i < _options.Peers; i++) Start(joiner: false);
        InitialValidationLoss = _peers[0].Peer.Trainer.Evaluate(_validation);
        foreach (var (at, index) in _options.Crashes)
            Scheduler.ScheduleAt(at, null, () => { if (index < _peers.Count) Crash(_peers[index]); });
        foreach (var (at, index) in _options.Leaves)
            Scheduler.ScheduleAt(at, null, () => { if (index < _peers.Count) Leave(_peers[index]); });
        foreach (var at in _options.Joins)
            Scheduler.ScheduleAt(at, null, () => Start(joiner: true));
        // Joiners are created by events, so wait in a loop until every peer that exists has finished or crashed.
        while (true)
        {
            var open = _peers.Where(p => !p.Gone && !p.Run.IsCompleted).Select(p => p.Run).ToArray();
            bool joinsPending = _options.Joins.Any(t => t > Scheduler.Now);
            if (open.Length == 0 && !joinsPending) break;
            var next = open.Length > 0 ? Task.WhenAny(open) : Task.Delay(_options.Joins.Where(t => t > Scheduler.Now).Min() - Scheduler.Now, _peers[0].Host.Time);
            Scheduler.RunUntilComplete(next, _options.Limit);
            foreach (var failed in _peers.Where(p => p.Run.IsFaulted && !p.Gone))
                throw new SimulationException($"{failed.Host.Name} failed: {failed.Run.Exception!.InnerException!.Message}", failed.Run.Exception);
        }
        return Result();
    }

    private void Start(bool joiner)
    {
        int index = _peers.Count;
        var host = new SimulatedHost(Scheduler, $"peer{index}");
        var net = Network.CreatePeer(host, joiner ? null : _starterKeys[index]);
        var compute = new ComputeModel(_options.Compute, _random.Fork($"compute{index}"));
        var swarm = new SwarmOptions
        {
            Algorithm = _options.Algorithm,
            InnerStepsPerRound = _options.InnerStepsPerRound,
            SyncWarmupSteps = _options.SyncWarmupSteps,
            SwarmSeed = _options.Seed,
            RoundTimeout = _options.RoundTimeout,
            Overlap = _options.Overlap,
            Payload = _options.Payload,
            RoundsMax = _options.Rounds,
            PeersMin = joiner ? 1 : _options.Peers,
            StateDonorsMax = _options.StateDonorsMax,
            StateChunkBytes = _options.StateChunkBytes,
            Verify = _options.Verify,
        };
        var misbehave = _options.Attackers.Where(a => a.Peer == index).Select(a => new Misbehaviour(a.Mode)).FirstOrDefault();
        // As the daemon builds it: the same initial weights everywhere (the swarm seed), a disjoint data shard per peer.
        var trainer = new InnerTrainer(new ModelStage(_options.Model, seed: _options.Seed), _options.Inner, CPU);
        var data = _data.ForReplica(_options.Seed, index, _options.Peers + _options.Joins.Count, _options.Inner.MicroBatchSize, _options.Inner.SequenceLength);
        IUpdateCodec codec = new ChainUpdateCodec(_options.Codec, trainer.Flat);
        if (misbehave is not null)
        {
            codec = misbehave.Wrap(codec);
            data = misbehave.Wrap(data, _options.Model.VocabSize, _options.Seed ^ index);
        }
        var log = new VirtualClockLogger(Scheduler, host.Name, Log, _echo);
        var peer = new SwarmPeer(swarm, net, host.Time, new Random((int)(_options.Seed ^ index)), trainer, data, codec,
            _options.DiLoCo, _options.NoLoCo, log,
            new ChainUpdateCodec(_options.WeightsCodec, trainer.Flat), _options.SparseLoCo)
        {
            Misbehave = misbehave,
            ScoringBatches = _scoring,
        };
        var sim = new SimulatedSwarmPeer(index, host, net, peer, trainer, compute, joiner, Scheduler.Now) { Joined = !joiner };
        peer.AfterInnerStep = ct =>
        {
            var step = compute.NextStepTime();
            sim.ComputeSeconds += step.TotalSeconds;
            return new ValueTask(Task.Delay(step, host.Time, ct));
        };
        peer.OnRound = report =>
        {
            sim.Rounds.Add((Scheduler.Now, report));
            if (sim == _peers.FirstOrDefault(p => !p.Gone && p.Joined)) Evaluate(sim);
        };
        peer.OnStep = (step, loss) => sim.Losses.Add((Scheduler.Now, step, loss));
        _peers.Add(sim);
        var bootstrap = index == 0 ? Array.Empty<Multiaddr>() : [_peers[0].Address];
        if (joiner) bootstrap = [_peers.First(p => !p.Gone).Address];
        sim.Run = host.Start(() => LifeAsync(sim, bootstrap));
    }

    /// <summary>A daemon's life: join (a joiner downloads the swarm's state first), train its rounds, then its final validation.</summary>
    private async Task LifeAsync(SimulatedSwarmPeer sim, Multiaddr[] bootstrap)
    {
        try
        {
            await sim.Peer.JoinAsync(bootstrap, fetchState: sim.Joiner, sim.Stop.Token);
        }
        catch (SwarmProtocolException e) when (sim.Joiner)
        {
            // The daemon exits with this error (its user starts it again later); the simulated process does the same.
            Log.Add(FormattableString.Invariant($"{Scheduler.Now.TotalSeconds,9:0.000} {sim.Host.Name,-7} fail could not join: {e.Message}"));
            Leave(sim, "gave up joining");
            return;
        }
        sim.JoinedAtRound = sim.Peer.Round;
        if (sim.Joiner)
        {
            sim.Joined = true;
            Record("join", sim);
        }
        await sim.Peer.RunAsync(sim.Stop.Token);
        sim.FinishedAt = Scheduler.Now;
        sim.FinalValidationLoss = sim.Trainer.Evaluate(_validation);
    }

    private void Crash(SimulatedSwarmPeer p)
    {
        if (p.Gone) return;
        p.Crashed = true;
        p.CrashedAt = Scheduler.Now;
        Log.Add(FormattableString.Invariant($"{Scheduler.Now.TotalSeconds,9:0.000} {p.Host.Name,-7} info crashed (simulated kill -9) at round {p.Peer.Round}"));
        Network.Crash(p.Net);
        Record("crash", p);
    }

    /// <summary>A graceful departure: the connections close (partners learn after one-way latency), then the process exits.</summary>
    private void Leave(SimulatedSwarmPeer p, string kind = "leave")
    {
        if (p.Gone) return;
        p.Left = true;
        p.CrashedAt = Scheduler.Now;
        Log.Add(FormattableString.Invariant($"{Scheduler.Now.TotalSeconds,9:0.000} {p.Host.Name,-7} info left the swarm at round {p.Peer.Round}"));
        _ = p.Net.DisposeAsync();
        p.Host.Crash();
        Record(kind, p);
    }

    private void Record(string kind, SimulatedSwarmPeer p) =>
        _membership.Add((Scheduler.Now.TotalSeconds, kind, p.Index, _peers.Count(q => !q.Gone && q.Joined)));

    /// <summary>Validation of one peer's current weights, with the tokens every peer has trained on so far.</summary>
    private void Evaluate(SimulatedSwarmPeer p)
    {
        var point = new SwarmLossPoint(p.Losses.Count, _peers.Sum(q => (long)q.Losses.Count) * TokensPerStep, Scheduler.Now.TotalSeconds,
            p.Trainer.Evaluate(_validation), p.Losses.Count > 0 ? p.Losses[^1].Loss : double.NaN);
        _curve.Add(point);
        OnEvaluation?.Invoke(point);
    }

    private SwarmSimulationResult Result()
    {
        var survivors = _peers.Where(p => !p.Gone && p.Joined).ToArray();
        return new SwarmSimulationResult(
            InitialValidationLoss,
            survivors.Average(p => p.FinalValidationLoss),
            _peers.Max(p => p.FinishedAt).TotalSeconds,
            _peers.Sum(p => p.Peer.Stats.UpdateBytesSent),
            _peers.Sum(p => p.Peer.Stats.RejectedUpdates),
            survivors.Select(p => SwarmPeerFlat(p)).ToArray(),
            _peers.Sum(p => (long)p.Losses.Count) * TokensPerStep);
    }

    private static float[] SwarmPeerFlat(SimulatedSwarmPeer p)
    {
        using var scope = NewDisposeScope();
        return p.Peer.Trainer.Flat.Snapshot().data<float>().ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        // The run is over: every process exits at once (its connections reset, its timers stop), then each peer frees
        // its outer state. Nothing simulated runs after this, so the shutdown may finish off the loop.
        foreach (var p in _peers.Where(p => !p.Gone)) Network.Crash(p.Net);
        foreach (var p in _peers)
        {
            try { await p.Peer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)); }
            catch (TimeoutException) { }   // a peer stopped mid-operation by the crash: its tensors go with the process
            p.Trainer.Dispose();
        }
    }
}

/// <summary>The headline numbers of a swarm simulation: the final loss is the mean over the peers still in the swarm.</summary>
public sealed record SwarmSimulationResult(double InitialValidationLoss, double FinalValidationLoss, double SimSeconds,
    long UpdateBytesSent, long RejectedUpdates, IReadOnlyList<float[]> SurvivorWeights, long Tokens);

/// <summary>One validation measurement: the peer's inner steps, tokens trained on by all peers so far, virtual seconds, losses.</summary>
public sealed record SwarmLossPoint(long Step, long Tokens, double SimSeconds, double ValidationLoss, double TrainLoss);
