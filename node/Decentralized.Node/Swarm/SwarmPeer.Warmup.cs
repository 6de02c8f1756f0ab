using Decentralized.Node.Rounds;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    /// <summary>True while this member still owes the swarm synchronous warm-up steps.</summary>
    public bool InWarmup => _warmup is not null && Trainer.Step < _options.SyncWarmupSteps && Round == 0 && StepsInRound == 0;

    /// <summary>
    /// The synchronous warm-up (<see cref="SwarmOptions.SyncWarmupSteps"/>): each inner step's gradient is all-gathered
    /// with every live member on the round engine (a <see cref="SynchronousMethod"/> round per step) and every member
    /// takes the same AdamW step on the mean, as <c>train --sync-warmup</c> does. At its end φ and the anchor restart
    /// from the weights everyone now shares, and the outer rounds begin.
    /// </summary>
    private async Task SynchronousWarmupAsync(CancellationToken ct)
    {
        _log.LogInformation("synchronous warm-up: {Steps} steps with gradients all-gathered, then outer rounds", _options.SyncWarmupSteps - Trainer.Step);
        lock (_outerLock) _warmup!.RestoreRound(Trainer.Step);   // a resumed member picks up the swarm's step
        while (Trainer.Step < _options.SyncWarmupSteps && !ct.IsCancellationRequested)
        {
            double loss = Trainer.ComputeGradients(Data.Next, _buffer);
            if (!double.IsFinite(loss)) throw Diverged($"warm-up step {Trainer.Step}", $"loss {loss}");
            await AverageGradientsAsync(ct);
            Trainer.ApplyUpdate();
            Stats.LastLoss = loss;
            OnStep?.Invoke(Trainer.Step, loss);
            if (AfterInnerStep is not null) await AfterInnerStep(ct);
        }
        if (Trainer.Step < _options.SyncWarmupSteps) return;
        lock (_outerLock)
        {
            using var weights = Trainer.Flat.Snapshot();
            _engine.Restart(weights);
        }
        _log.LogInformation("synchronous warm-up done at step {Step}: outer rounds start from the shared weights", Trainer.Step);
    }

    /// <summary>One synchronous step's exchange: send our gradient to every live member, wait (bounded), take the mean.</summary>
    private async Task AverageGradientsAsync(CancellationToken ct)
    {
        var live = Live(_warmup!, out var peers);
        Outgoing outgoing;
        lock (_outerLock)
        {
            using var gradient = Trainer.Flat.GradientSnapshot();
            _warmup!.RestoreRound(Trainer.Step);   // the step is the round: members pair their gradients by it
            outgoing = _warmup.Begin(gradient, live);
        }
        var header = new UpdateHeader(outgoing.Round, outgoing.Payload, outgoing.Blob.Length);
        var sends = Task.WhenAll(outgoing.Targets.Select(t => SendUpdateAsync(peers[t], header, outgoing.Blob, ct)));
        await WaitUntilReadyAsync(_warmup!, ct);
        ApplyResult result;
        lock (_outerLock)
        {
            using var gradient = Trainer.Flat.GradientSnapshot();
            result = _warmup!.Apply(gradient);
            using (result.Fast) Trainer.Flat.AssignGradients(result.Fast);
        }
        Stats.Awaited = [];
        await sends;   // each is bounded by the round timeout
        foreach (var outcome in result.Outcomes)
            foreach (var (peer, reason) in outcome.Rejected)
            {
                Stats.AddRejected();
                _log.LogWarning("rejected gradient from {Peer} for warm-up step {Step}: {Reason}", peer, outcome.Round, reason);
            }
    }
}
