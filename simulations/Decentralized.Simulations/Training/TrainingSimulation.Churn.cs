using System.Buffers.Binary;
using Decentralized.Node.Training;
using Decentralized.Protocol;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Training;

public sealed partial class TrainingSimulation
{
    /// <summary>Protocol id of the simulated state transfer to joiners.</summary>
    public const string StateProtocol = "/decentralized/sim/state/1";

    private readonly SortedSet<int> _live = new();
    private readonly Dictionary<long, int[]> _roundMembers = new();
    private readonly List<(double, string, int, int)> _churnLog = new();
    private readonly TaskCompletionSource _allDone = new();
    private readonly DeterministicRandom _random;
    private readonly TrainingData _data;
    private int _running;
    private int _pendingChurn;

    /// <summary>Peers currently training (joined, not departed).</summary>
    public IReadOnlyCollection<int> LivePeers => _live;

    private void ScheduleChurn()
    {
        if (_options.Churn is not { } churn) return;
        var donorPick = _random.Fork("donors");
        _pendingChurn = churn.Events.Count;
        foreach (var e in churn.Events)
        {
            At(e.At, () =>
            {
                switch (e.Kind)
                {
                    case ChurnKind.Join: StartJoin(donorPick); break;
                    case ChurnKind.Leave: Depart(e.Slot, crash: false); ChurnEventDone(); break;
                    default: Depart(e.Slot, crash: true); ChurnEventDone(); break;
                }
            });
        }
    }

    private void ChurnEventDone()
    {
        _pendingChurn--;
        if (_running <= 0 && _pendingChurn == 0) _allDone.TrySetResult();
    }

    /// <summary>Evaluation in virtual time: every interval, the lowest-numbered live peer.</summary>
    private void ScheduleObserver()
    {
        if (_options.EvalInterval is not { } interval) return;
        void Tick()
        {
            if (_allDone.Task.IsCompleted) return;
            if (_live.Count > 0) Evaluate(_peers[_live.Min]);
            Scheduler.Schedule(interval, null, Tick);
        }
        Scheduler.Schedule(interval, null, Tick);
    }

    /// <summary>
    /// A leave closes the peer's connections at once (its partners learn after one-way latency) and leaves the
    /// membership; a crash stops the process without a word: partners learn from connection resets or the round
    /// timeout, and the membership stops pairing it only after <see cref="SimTrainingOptions.FailureDetection"/>.
    /// </summary>
    private void Depart(int slot, bool crash)
    {
        if (slot >= _peers.Count || !_live.Contains(slot) || _peers[slot].Departed) return;
        var p = _peers[slot];
        p.Departed = true;
        p.FinishedAt = Scheduler.Now;
        if (crash)
        {
            Network.Crash(p.Network);
            // The heartbeats notice the silence after FailureDetection: the peer leaves the pairing and nobody waits for it.
            At(Scheduler.Now + _options.FailureDetection, () =>
            {
                _live.Remove(slot);
                StopWaitingFor(slot);
            });
        }
        else
        {
            _live.Remove(slot);
            _ = p.Network.DisposeAsync();
            p.Host.Crash();   // the process exits: none of its timers or continuations run any more
            StopWaitingFor(slot);   // it said goodbye
        }
        _churnLog.Add((Scheduler.Now.TotalSeconds, crash ? "crash" : "leave", slot, _live.Count));
        Log($"peer{slot} {(crash ? "crashed" : "left")} live={_live.Count}");
        if (p.LoopRunning)
        {
            p.LoopRunning = false;
            LoopEnded();
        }
    }

    /// <summary>Every live peer stops waiting for an update from <paramref name="departed"/>.</summary>
    private void StopWaitingFor(int departed)
    {
        foreach (var q in _peers.Where(q => _live.Contains(q.Index)).ToArray())
            foreach (var slot in q.Inbox.Where(kv => kv.Key.Sender == departed).OrderBy(kv => kv.Key.Round).Select(kv => kv.Value).ToArray())
                slot.TrySetException(new IOException($"peer{departed} left the swarm"));
    }

    /// <summary>A new peer: its own process and identity, the addresses of the live peers, then a state fetch and training.</summary>
    private void StartJoin(DeterministicRandom donorPick)
    {
        int k = _options.Replicas;
        int index = _peers.Count;
        var data = _data.ForReplica(_options.Seed + 1_000_003L * (index / k + 1), index % k, k, _options.Inner.MicroBatchSize, _options.Inner.SequenceLength);
        var p = AddPeer(TorchGuard.Run(() => new LocalReplica(index, _comparison, data, CPU)));
        var live = _live.Select(i => _peers[i]).ToArray();
        foreach (var q in live)
        {
            p.Network.AddAddresses(q.Network.LocalPeer, q.Network.ListenAddresses);
            q.Network.AddAddresses(p.Network.LocalPeer, p.Network.ListenAddresses);
        }
        var donors = live.OrderBy(_ => donorPick.NextUInt64()).ToArray();
        p.Host.Start(async () =>
        {
            try { await JoinAsync(p, donors); }
            catch (Exception e) { _allDone.TrySetException(new SimulationException($"joiner peer{p.Index} failed: {e.Message}", e)); }
        });
    }

    private async Task JoinAsync(SimReplica p, SimReplica[] donors)
    {
        bool synced = false;
        foreach (var donor in donors)
        {
            if (await TryFetchStateAsync(p, donor)) { synced = true; break; }
        }
        if (synced)
        {
            _live.Add(p.Index);
            _churnLog.Add((Scheduler.Now.TotalSeconds, "join", p.Index, _live.Count));
            Log($"peer{p.Index} joined at round={p.Rounds} step={p.Step} live={_live.Count}");
            StartLoop(p);
        }
        else
        {
            Log($"peer{p.Index} could not fetch the state from any of {donors.Length} peers");
        }
        ChurnEventDone();
    }

    /// <summary>
    /// State transfer to a joiner (one message, then FIN):
    /// <code>
    ///   [round: i64 LE][step: i64 LE]  uvarint(len) ‖ fp32 blob of φ   uvarint(len) ‖ fp32 blob of the outer momentum
    /// </code>
    /// </summary>
    private async Task ServeStateAsync(SimReplica self, Stream stream, CancellationToken ct)
    {
        if (self.Replica.NoLoCo is not { } noloco) return;
        var header = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(header, self.Rounds);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), self.Step);
        var slow = _stateCodec.Encode(SimReplica.ToArray(noloco.Slow), self.Index, "slow", 0);
        var momentum = _stateCodec.Encode(SimReplica.ToArray(noloco.Momentum), self.Index, "momentum", 0);
        await stream.WriteAsync(header, ct);
        await stream.WriteLengthPrefixedAsync(slow, ct);
        await stream.WriteLengthPrefixedAsync(momentum, ct);
        await stream.CloseWriteAsync(ct);
        Log($"peer{self.Index} served state bytes={slow.Length + momentum.Length}");
    }

    private async Task<bool> TryFetchStateAsync(SimReplica joiner, SimReplica donor)
    {
        using var timeout = new CancellationTokenSource(_options.RoundTimeout, joiner.Host.Time);
        try
        {
            var stream = await joiner.Network.OpenStreamAsync(donor.Network.LocalPeer, StateProtocol, timeout.Token);
            await using (stream)
            {
                var header = new byte[16];
                await stream.ReadExactlyAsync(header, timeout.Token);
                long round = BinaryPrimitives.ReadInt64LittleEndian(header), step = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
                if (round < 0 || step < 0 || step > _options.StepsPerReplica)
                    throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"state claims round {round}, step {step}");
                int blobMax = checked((int)Math.Min(int.MaxValue, Parameters * sizeof(float) + (1 << 20)));
                var slow = await stream.ReadLengthPrefixedAsync(blobMax, timeout.Token) ?? throw new EndOfStreamException();
                var momentum = await stream.ReadLengthPrefixedAsync(blobMax, timeout.Token) ?? throw new EndOfStreamException();
                var (phi, m) = (WireCodec.Decode(slow, "slow", (int)Parameters), WireCodec.Decode(momentum, "momentum", (int)Parameters));
                TorchGuard.Run(() => ApplyState(joiner, round, step, phi, m));
                return true;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or Kernels.CodecException)
        {
            Log($"peer{joiner.Index} state fetch from peer{donor.Index} failed: {Reason(e)}");
            return false;
        }
    }

    private static void ApplyState(SimReplica joiner, long round, long step, float[] slow, float[] momentum)
    {
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var noloco = joiner.Replica.NoLoCo!;
            noloco.Slow.copy_(tensor(slow));
            noloco.Momentum.copy_(tensor(momentum));
            noloco.Round = round;
            joiner.Replica.RestartFromSlow();
        }
        joiner.Replica.Trainer.Step = step;   // the learning-rate schedule continues where the swarm is
        joiner.Step = step;
        joiner.Rounds = round;
    }
}
