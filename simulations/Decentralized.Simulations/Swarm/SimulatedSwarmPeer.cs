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
    /// <summary>Left on schedule: its process stopped after closing its connections (as a daemon stopped with Ctrl-C).</summary>
    public bool Left { get; set; }
    /// <summary>Crashed or left: no longer in the swarm.</summary>
    public bool Gone => Crashed || Left;
    public TimeSpan CrashedAt { get; set; }
    /// <summary>True once a joiner has its state (starting peers: from the start).</summary>
    public bool Joined { get; set; }
    /// <summary>Virtual time its inner steps took.</summary>
    public double ComputeSeconds { get; set; }
    public TimeSpan FinishedAt { get; set; }
    public long JoinedAtRound { get; set; }
    public double FinalValidationLoss { get; set; } = double.NaN;
    public List<(TimeSpan At, RoundReport Report)> Rounds { get; } = [];
    public List<(TimeSpan At, long Step, double Loss)> Losses { get; } = [];
}
