using Decentralized.Node.Rounds;
using System.Collections.Concurrent;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Decentralized.Node.Swarm;

/// <summary>
/// One member of a training swarm: H local AdamW steps, then an outer round with its NoLoCo group (or,
/// for DiLoCo, every live peer), then the outer step. It sees only an <see cref="IPeerNetwork"/>, a
/// <see cref="TimeProvider"/> and a seeded <see cref="Random"/>, so the TCP daemon and the simulator run
/// this same code. Nothing blocks forever: every wait has the round timeout or the peer timeout.
/// </summary>
public sealed partial class SwarmPeer : IAsyncDisposable
{
    private readonly SwarmOptions _options;
    private readonly IPeerNetwork _network;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly IUpdateCodec _codec;
    private readonly IUpdateCodec _weightsCodec;
    private readonly ILogger _log;
    /// <summary>Serialises the engine and φ: the round loop, update streams and state serving all touch them.</summary>
    private readonly object _outerLock = new();
    private readonly long[] _buffer;
    private readonly IOuterMethod _method;
    private readonly RoundEngine _engine;
    /// <summary>The synchronous warm-up's steps (null without one): the same engine, gradients instead of outer updates.</summary>
    private readonly RoundEngine? _warmup;
    /// <summary>Sends of each exchange still open, awaited when it is reported.</summary>
    private readonly Dictionary<long, (IReadOnlyList<string> Targets, Task<long[]> Bytes)> _sends = new();
    private readonly CancellationTokenSource _lifetime = new();
    private TaskCompletionSource _arrival = new();   // completed through Post, never inline on a stream handler
    private Task? _heartbeats;

    public SwarmPeer(SwarmOptions options, IPeerNetwork network, TimeProvider time, Random random, InnerTrainer trainer,
        IBatchSource data, IUpdateCodec codec, DiLoCoOptions diloco, NoLoCoOptions noloco, ILogger log, IUpdateCodec? weightsCodec = null,
        SparseLoCoOptions? sparse = null)
    {
        _options = options.Validate();
        if (options.Algorithm == Algorithm.Ddp) throw new ArgumentException("a swarm runs diloco or noloco; ddp is the in-process baseline only");
        _network = network;
        _time = time;
        _statePacer = new RatePacer(time, options.StateUploadBytesPerSecond);
        _random = random;
        _codec = codec;
        _log = log;
        Trainer = trainer;
        Data = data;
        _buffer = new long[trainer.MicroBatchTokens];
        // NoLoCo over a lossy chain with γ = β sends θ as its offset from the weights every member started from (the
        // trainer holds them here, before any checkpoint or state download: the engine's anchor), so 8 bits keep it precise.
        _weightsCodec = weightsCodec ?? new ChainUpdateCodec(WeightsChain.Default, trainer.Flat);
        using (var initial = trainer.Flat.Snapshot())
            _method = options.Algorithm switch
            {
                Algorithm.DiLoCo => new DiLoCoMethod(initial, diloco),
                Algorithm.SparseLoCo => new SparseLoCoMethod(initial, trainer.Flat.Shapes, sparse ?? new()),
                _ => new NoLoCoMethod(initial, noloco),
            };
        // φ is weights, not an update: a lossy update chain (4 bits) would blur it far more than the pull can use, so it
        // travels in bf16, the form the in-process comparison measured (the same engine and codecs as train).
        var codecs = new RoundCodecs(codec, new ChainUpdateCodec("bf16", trainer.Flat), _weightsCodec);
        var rounds = new RoundOptions
        {
            Seed = options.SwarmSeed,
            Overlap = options.Overlap,
            Payload = options.Payload,
            UpdateNormBound = options.UpdateNormBound,
            Verify = options.Verify,
            RoundTimeout = options.RoundTimeout,
            PeersMax = options.PeersMax,
        };
        _engine = new RoundEngine(network.LocalPeer.ToString(), _method, codecs, rounds, time);
        if (options.SyncWarmupSteps > 0)
            _warmup = new RoundEngine(network.LocalPeer.ToString(), new SynchronousMethod(trainer.Flat.Count, _method.Slow.device), codecs,
                rounds with { Overlap = false, Payload = null }, time);
        Membership = new Membership(network, time, options, log) { LocalProgress = () => (Round, Trainer.Step) };
        network.SetStreamHandler(SwarmProtocols.Update, ServeUpdateAsync);
        network.SetStreamHandler(SwarmProtocols.State, ServeStateAsync);
    }

    /// <summary>The update codec and, for anchored NoLoCo, the weights codec: their error-feedback residuals go into checkpoints.</summary>
    internal IEnumerable<IUpdateCodec> Codecs => _engine.Payload == Payload.AnchoredFast ? [_codec, _weightsCodec] : [_codec];

    public InnerTrainer Trainer { get; }
    public IBatchSource Data { get; }
    public Membership Membership { get; }
    public SwarmStats Stats { get; } = new();
    /// <summary>What this peer's updates carry (the swarm's payload: every member derives the same from the same settings).</summary>
    public Payload Payload => _engine.Payload;
    public PeerId LocalPeer => _network.LocalPeer;
    public SwarmOptions Options => _options;

    /// <summary>The outer round this peer is in (rounds completed so far, or joined at).</summary>
    public long Round { get; private set; }

    /// <summary>Inner steps taken since the last outer step (saved so a restart finishes the round).</summary>
    public int StepsInRound { get; private set; }

    /// <summary>φ: the outer weights.</summary>
    public Tensor Slow => _method.Slow;
    public Tensor OuterMomentum => _method.Momentum;

    /// <summary>
    /// The local held-out batches verification scores partners' updates on (the engine's loss: our model at the trial
    /// weights on these batches). Null: updates are clipped and checked, not scored. Set before the run starts.
    /// </summary>
    public IReadOnlyList<long[]>? ScoringBatches
    {
        get => _scoringBatches;
        set
        {
            _scoringBatches = value;
            _engine.Loss = value is null ? null : HeldOutLoss;
        }
    }

    private IReadOnlyList<long[]>? _scoringBatches;

    /// <summary>The model's loss at <paramref name="weights"/> on the scoring batches; the trainer's weights are put back after.</summary>
    private double HeldOutLoss(Tensor weights)
    {
        // Real seconds even in the simulator, whose virtual clock does not time compute: this is the cost it reports.
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var saved = Trainer.Flat.Snapshot();
        try
        {
            Trainer.Flat.Assign(weights);
            return Trainer.Evaluate(_scoringBatches!);
        }
        finally
        {
            Trainer.Flat.Assign(saved);
            Stats.ScoringSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
    }

    /// <summary>Testing only: what this peer lies about in its updates (<c>--misbehave</c>); null for an honest peer.</summary>
    public Misbehaviour? Misbehave { get; init; }

    /// <summary>Simulator hook: awaited after every inner step (virtual compute time); null in the real daemon.</summary>
    public Func<CancellationToken, ValueTask>? AfterInnerStep { get; set; }

    public Action<long, double>? OnStep { get; set; }
    public Action<RoundReport>? OnRound { get; set; }

    /// <summary>Restores the position of a checkpointed peer (its tensors are restored by the checkpoint).</summary>
    public void RestorePosition(long round, int stepsInRound)
    {
        Round = round;
        StepsInRound = stepsInRound;
        // Overlap: an exchange still in flight belongs to the position we leave (a rollback or a state download).
        _engine.RestoreRound(round);
    }

    /// <summary>The reason a gate gave for refusing a connection (ours or the peer's), found in a dial's exception chain.</summary>
    private static string? GateRefusal(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is SwarmProtocolException { Message: var m } && m.StartsWith("refused peer ", StringComparison.Ordinal))
                return m[(m.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        return null;
    }

    /// <summary>Dials the bootstrap addresses (a failed one is logged and skipped) and, if the swarm already trains, fetches its state.</summary>
    public async Task JoinAsync(IReadOnlyList<Multiaddr> bootstrap, bool fetchState, CancellationToken ct)
    {
        var reached = new List<PeerId>();
        string? refusal = null;
        // A busy bootstrap peer (training on every core) may be slow to handshake: three tries, growing patience. A
        // peer that answered and refused us (another swarm, key or settings) is not asked again: that is the answer.
        for (int attempt = 1; attempt <= 3 && reached.Count == 0 && refusal is null; attempt++)
            foreach (var address in bootstrap)
            {
                try
                {
                    using var timeout = new Deadline(_time, _options.PeerTimeout * attempt, ct);
                    reached.Add(await _network.DialAsync(address, timeout.Token));
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    if (GateRefusal(e) is { } reason) { refusal = reason; continue; }
                    _log.LogWarning("bootstrap {Address} failed (attempt {Attempt} of 3): {Reason}", address, attempt, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(attempt), _time, ct);
                }
            }
        if (bootstrap.Count > 0 && reached.Count == 0)
            throw new SwarmProtocolException(refusal is not null
                ? $"the bootstrap peer refused us: {refusal}"
                : $"none of the {bootstrap.Count} bootstrap peers answered: check the address, that the peer runs, and that its port is reachable");
        if (reached.Count > 0)
        {
            await Membership.BeatAsync(ct);   // learn the swarm's progress before deciding where to fetch from
            if (fetchState)
            {
                // The peers the bootstrap gossiped are being dialled now; a heartbeat later they are donors too.
                await Task.Delay(_options.HeartbeatInterval, _time, ct);
                await Membership.BeatAsync(ct);
                await FetchStateAsync(reached, ct);
            }
        }
    }

    /// <summary>Trains until cancelled or <see cref="SwarmOptions.RoundsMax"/> rounds; a cancellation finishes the current step first.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        _heartbeats ??= HeartbeatLoopAsync(_lifetime.Token);
        await WaitForPeersAsync(ct);
        if (InWarmup) await SynchronousWarmupAsync(ct);
        // Utilisation, measured: the clock is read around every inner step; all else (rounds, waits, evaluation) is
        // the rest of the training part's wall time.
        long mark = _time.GetTimestamp();
        void Account(bool innerStep) { long now = _time.GetTimestamp(); Stats.AddTrainingTime(_time.GetElapsedTime(mark, now), innerStep); mark = now; }
        try { await OuterRoundsAsync(ct, Account); }
        finally { Account(innerStep: false); }
    }

    private async Task OuterRoundsAsync(CancellationToken ct, Action<bool> account)
    {
        while (!ct.IsCancellationRequested && (_options.RoundsMax == 0 || Round < _options.RoundsMax))
        {
            while (StepsInRound < _options.InnerStepsPerRound && !ct.IsCancellationRequested)
            {
                account(false);
                double loss = Trainer.TrainStep(Data.Next, _buffer);
                account(true);
                StepsInRound++;
                if (!double.IsFinite(loss)) throw Diverged($"inner step {Trainer.Step}", $"loss {loss}");
                Stats.LastLoss = loss;
                OnStep?.Invoke(Trainer.Step, loss);
                if (AfterInnerStep is not null) await AfterInnerStep(ct);
            }
            if (ct.IsCancellationRequested) break;
            await OuterRoundAsync(ct);
            if (FirstNonFiniteTensor() is not null) throw Diverged($"the outer step of round {Round - 1}", "state");
        }
    }

    /// <summary>The first tensor of the replica state (weights, φ, outer momentum) holding NaN or ±Inf, or null when all are finite.</summary>
    public string? FirstNonFiniteTensor()
    {
        lock (_outerLock)
        {
            return NonFiniteCheck.FirstParameter(Trainer.Flat) is { } w ? $"weights {w}"
                : NonFiniteCheck.FirstInVector(Slow, Trainer.Flat) is { } s ? $"outer weights (φ) {s}"
                : NonFiniteCheck.FirstInVector(OuterMomentum, Trainer.Flat) is { } m ? $"outer momentum {m}"
                : null;
        }
    }

    private TrainingDivergedException Diverged(string where, string what)
    {
        string tensor;
        if (FirstNonFiniteTensor() is { } bad)
        {
            tensor = $"first non-finite tensor: {bad}";
        }
        else
        {
            var (name, max) = NonFiniteCheck.LargestParameter(Trainer.Flat);
            tensor = $"every tensor still finite, the largest is {name} (|w| up to {max:G3})";
        }
        return new TrainingDivergedException($"training diverged at {where} (round {Round}): {what} not finite; {tensor}");
    }

    private async Task WaitForPeersAsync(CancellationToken ct)
    {
        var lastLog = _time.GetUtcNow();
        while (Membership.LivePeers().Count + 1 < _options.PeersMin && !ct.IsCancellationRequested)
        {
            if (_time.GetUtcNow() - lastLog > TimeSpan.FromSeconds(10))
            {
                _log.LogInformation("waiting for peers: {Have} of {Want} in the swarm", Membership.LivePeers().Count + 1, _options.PeersMin);
                lastLog = _time.GetUtcNow();
            }
            try { await Task.Delay(_options.HeartbeatInterval, _time, ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Membership.BeatAsync(ct);
                await Task.Delay(_options.HeartbeatInterval, _time, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) { _log.LogWarning("heartbeat round failed: {Reason}", e.Message); }
        }
    }

    /// <summary>A copy of φ as CPU floats, taken under the outer lock (for state serving and checkpoints).</summary>
    internal float[] SnapshotVector(Tensor vector)
    {
        lock (_outerLock) return Cpu(vector);
    }

    public async ValueTask DisposeAsync()
    {
        _lifetime.Cancel();
        if (_heartbeats is not null) { try { await _heartbeats; } catch (OperationCanceledException) { } }
        foreach (var (_, sends) in _sends) { try { await sends.Bytes; } catch (Exception) { } }
        _engine.Dispose();
        _method.Dispose();
        _warmup?.Dispose();
        _warmup?.Method.Dispose();
        _lifetime.Dispose();
    }
}

/// <summary>One line's worth of what happened in an outer round ("why am I waiting?").</summary>
public sealed record RoundReport(long Round, IReadOnlyList<string> Partners, IReadOnlyList<string> Received,
    IReadOnlyList<string> Rejected, double WaitSeconds, string ClosedBecause, long BytesSent);
