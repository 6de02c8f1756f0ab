using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Swarm;

/// <summary>One simulated daemon: its process, network view, swarm peer and what happened to it.</summary>
public sealed class SimulatedSwarmPeer(int index, SimulatedHost host, SimulatedPeerNetwork net, SwarmPeer peer, InnerTrainer trainer, ComputeModel compute, bool joiner, TimeSpan startedAt)
{
    public int Index { get; } = index;
    public SimulatedHost Host { get; } = host;
    public SimulatedPeerNetwork Net { get; } = net;
    public SwarmPeer Peer { get; } = peer;
    public InnerTrainer Trainer { get; } = trainer;
    public ComputeModel Compute { get; } = compute;
    public bool Joiner { get; } = joiner;
    public TimeSpan StartedAt { get; } = startedAt;
    public Multiaddr Address => Net.ListenAddresses[0].WithPeerId(Net.LocalPeer);
    public CancellationTokenSource Stop { get; } = new();
    public Task Run { get; set; } = Task.CompletedTask;
    public bool Crashed { get; set; }
    public TimeSpan CrashedAt { get; set; }
    public TimeSpan FinishedAt { get; set; }
    public long JoinedAtRound { get; set; }
    public double FinalValidationLoss { get; set; } = double.NaN;
    public List<(TimeSpan At, RoundReport Report)> Rounds { get; } = [];
    public List<(TimeSpan At, long Step, double Loss)> Losses { get; } = [];
}
