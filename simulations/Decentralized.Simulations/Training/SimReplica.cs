using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Training;

/// <summary>One simulated peer of a training run: its real replica, its process, its network view and its clocks.</summary>
internal sealed class SimReplica : IDisposable
{
    public SimReplica(int index, LocalReplica replica, SimulatedHost host, SimulatedPeerNetwork network, ComputeModel compute)
    {
        Index = index;
        Replica = replica;
        Host = host;
        Network = network;
        Compute = compute;
    }

    public int Index { get; }
    public LocalReplica Replica { get; }
    public SimulatedHost Host { get; }
    public SimulatedPeerNetwork Network { get; }
    public ComputeModel Compute { get; }
    public double ComputeSeconds { get; set; }
    public double IdleSeconds { get; set; }
    public long Rounds { get; set; }
    public long Step { get; set; }
    public double LastTrainLoss { get; set; } = double.NaN;
    public TimeSpan FinishedAt { get; set; }

    /// <summary>Set when the peer leaves or crashes: its loop stops at the next step.</summary>
    public bool Departed { get; set; }

    /// <summary>True while the training loop counts towards the run's end.</summary>
    public bool LoopRunning { get; set; }

    /// <summary>Updates from partners keyed by (round, sender); a waiter's completion source per key.</summary>
    public Dictionary<(long Round, int Sender), TaskCompletionSource<float[][]>> Inbox { get; } = new();

    public TaskCompletionSource<float[][]> InboxSlot(long round, int sender)
    {
        if (!Inbox.TryGetValue((round, sender), out var slot)) Inbox[(round, sender)] = slot = new TaskCompletionSource<float[][]>();
        return slot;
    }

    /// <summary>θ as a plain array (safe to keep across awaits, unlike a tensor in a dispose scope).</summary>
    public float[] FastWeights() => TorchGuard.Run(() =>
    {
        using var scope = NewDisposeScope();
        return Replica.Trainer.Flat.Snapshot().data<float>().ToArray();
    });

    public static float[] ToArray(Tensor t) => TorchGuard.Run(() =>
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().contiguous().data<float>().ToArray();
    });

    public void Dispose() => Replica.Dispose();
}
