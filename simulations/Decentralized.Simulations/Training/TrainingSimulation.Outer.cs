using Decentralized.Node.Training;
using Decentralized.Simulations.Collectives;
using Decentralized.Simulations.Network;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Training;

public sealed partial class TrainingSimulation
{
    private readonly Dictionary<long, AllReduceBarrier> _barriers = new();

    /// <summary>What an outer round brought back: partners' payloads (NoLoCo) or the averaged pseudo-gradient (DiLoCo).</summary>
    private sealed record OuterExchange(IReadOnlyList<float[][]> Received, float[]? MeanDelta);

    /// <summary>
    /// H inner steps, then an outer round. With <see cref="SimTrainingOptions.OneStepDelay"/> the exchange of round t
    /// runs while round t+1 trains, and its update is applied at the end of round t+1 with the fast weights corrected
    /// by the difference the late update makes (θ ← θ + φ′ − θ_t).
    /// </summary>
    private async Task OuterLoopAsync(SimReplica p)
    {
        long exchanges = p.Rounds;
        (Task<OuterExchange> Task, float[] Theta)? pending = null;
        while (p.Step < _options.StepsPerReplica && !p.Departed)
        {
            await InnerStepAsync(p);
            p.Step++;
            if (p.Step % _options.InnerStepsPerRound == 0 || p.Step == _options.StepsPerReplica)
            {
                if (pending is { } late)
                {
                    var result = await WaitIdleAsync(p, late.Task);
                    ApplyOuter(p, result, late.Theta, correct: true);
                    pending = null;
                }
                var theta = p.FastWeights();
                var exchange = ExchangeAsync(p, exchanges++, theta);
                if (_options.OneStepDelay && p.Step < _options.StepsPerReplica) pending = (exchange, theta);
                else ApplyOuter(p, await WaitIdleAsync(p, exchange), theta, correct: false);
            }
            MaybeEvaluate(p);
        }
    }

    private async Task<T> WaitIdleAsync<T>(SimReplica p, Task<T> task)
    {
        var started = Scheduler.Now;
        var result = await task;
        p.IdleSeconds += (Scheduler.Now - started).TotalSeconds;
        return result;
    }

    private Task<OuterExchange> ExchangeAsync(SimReplica p, long round, float[] theta) =>
        _options.Algorithm == Algorithm.NoLoCo ? NoLoCoExchangeAsync(p, round, theta) : DiLoCoExchangeAsync(p, round, theta);

    /// <summary>The outer step on what the exchange brought, then θ restarts from φ (or is corrected when late).</summary>
    private void ApplyOuter(SimReplica p, OuterExchange exchange, float[] theta, bool correct)
    {
        TorchGuard.Run(() => ApplyOuterStep(p, exchange, theta, correct));
        p.Rounds++;
        if (p.Index == _live.Min) _spread.Add((p.Rounds, Scheduler.Now.TotalSeconds, Spread(_peers.Where(q => _live.Contains(q.Index)).Select(q => SlowWeights(q.Index)).ToArray())));
    }

    private void ApplyOuterStep(SimReplica p, OuterExchange exchange, float[] theta, bool correct)
    {
        using (var scope = NewDisposeScope())
        {
            var own = tensor(theta);
            if (p.Replica.NoLoCo is { } noloco)
            {
                if (UsesFastWeights)
                {
                    noloco.StepFromFast(exchange.Received.Select(r => tensor(r[0])).Prepend(own).ToArray());   // NoLoCo eq. 2 with γ = β
                }
                else
                {
                    var slow = noloco.Slow.clone();
                    var deltas = exchange.Received.Select(r => tensor(r[0])).Prepend(own - slow).ToArray();
                    var slows = exchange.Received.Select(r => tensor(r[1])).Prepend(slow).ToArray();
                    noloco.Step(deltas, slows);                                                              // NoLoCo eqs. 1-3
                }
            }
            else
            {
                p.Replica.DiLoCo!.Step(tensor(exchange.MeanDelta!));
            }
            if (!correct)
            {
                p.Replica.RestartFromSlow();
            }
            else
            {
                using var noGrad = no_grad();
                var now = p.Replica.Trainer.Flat.Snapshot();
                p.Replica.Trainer.Flat.Assign(now + p.Replica.Slow! - own);
            }
        }
    }

    /// <summary>γ = β and a lossless chain: the fast weights alone carry the NoLoCo update (one vector per partner).</summary>
    private bool UsesFastWeights => _codec.IsLossless && _options.NoLoCo.EffectiveGamma == _options.NoLoCo.Beta;

    /// <summary>
    /// DiLoCo: Δ_i = φ − θ_i through the real codec, then a ring all-reduce of the encoded size; the mean is exact
    /// over the decoded contributions.
    /// </summary>
    private async Task<OuterExchange> DiLoCoExchangeAsync(SimReplica p, long round, float[] theta)
    {
        var slow = SimReplica.ToArray(p.Replica.DiLoCo!.Slow);
        var delta = new float[slow.Length];
        for (int i = 0; i < delta.Length; i++) delta[i] = slow[i] - theta[i];
        var blob = _codec.Encode(delta, p.Index, "delta", (int)round);
        var decoded = WireCodec.Decode(blob, "delta", delta.Length);
        var barrier = JoinBarrier(round, WireOverhead.Bytes(blob.Length));
        barrier.Contribute(p.Index, decoded);
        if (barrier.IsComplete) _barriers.Remove(round);
        await barrier.Finished[p.Index];
        Log($"peer{p.Index} round={round} allreduce bytes={blob.Length}");
        return new OuterExchange(Array.Empty<float[][]>(), barrier.Mean);
    }

    /// <summary>DDP: gradients, a ring all-reduce of the fp32 gradient, the averaged AdamW step on every replica.</summary>
    private async Task DdpLoopAsync(SimReplica p)
    {
        long bytes = WireOverhead.Bytes(Parameters * sizeof(float));
        while (p.Step < _options.StepsPerReplica)
        {
            await InnerStepAsync(p, gradientsOnly: true);
            float[] grads;
            grads = TorchGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                return p.Replica.Trainer.Flat.GradientSnapshot().data<float>().ToArray();
            });
            var barrier = JoinBarrier(p.Step, bytes);
            barrier.Contribute(p.Index, grads);
            if (barrier.IsComplete) _barriers.Remove(p.Step);
            await WaitIdleAsync(p, barrier.Finished[p.Index]);
            TorchGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                p.Replica.Trainer.Flat.AssignGradients(tensor(barrier.Mean!));
                p.Replica.Trainer.ApplyUpdate();
            });
            p.Step++;
            MaybeEvaluate(p);
        }
    }

    private AllReduceBarrier JoinBarrier(long key, long payloadBytes)
    {
        if (_barriers.TryGetValue(key, out var barrier)) return barrier;
        barrier = new AllReduceBarrier(_peers.Count);
        barrier.Finished = _collectives.Start(SyncPattern.RingAllReduce, _peers.Select(q => q.Network.Node).ToArray(),
            _peers.Select(q => q.Host).ToArray(), payloadBytes, ready: barrier.Ready.Select(r => r.Task).ToArray());
        _barriers[key] = barrier;
        return barrier;
    }

    /// <summary>One all-reduce: members contribute, the last contribution fixes the mean, each member's ring part then runs.</summary>
    private sealed class AllReduceBarrier(int members)
    {
        private double[]? _sum;
        private int _count;

        public TaskCompletionSource[] Ready { get; } = Enumerable.Range(0, members).Select(_ => new TaskCompletionSource()).ToArray();
        public Task<TimeSpan>[] Finished { get; set; } = Array.Empty<Task<TimeSpan>>();
        public float[]? Mean { get; private set; }
        public bool IsComplete => _count == members;

        public void Contribute(int member, float[] values)
        {
            _sum ??= new double[values.Length];
            for (int i = 0; i < values.Length; i++) _sum[i] += values[i];
            if (++_count == members)
            {
                Mean = new float[values.Length];
                for (int i = 0; i < values.Length; i++) Mean[i] = (float)(_sum[i] / members);
            }
            Ready[member].TrySetResult();
        }
    }
}
