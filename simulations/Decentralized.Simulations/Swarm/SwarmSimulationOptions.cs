using Decentralized.Node.Rounds;
using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Swarm;

/// <summary>
/// A swarm of the daemon's own <see cref="Node.Swarm.SwarmPeer"/>s on the simulated network: who starts, who crashes
/// and who joins when, and the models of links and GPUs that give the run its timing.
/// </summary>
public sealed record SwarmSimulationOptions
{
    public int Peers { get; init; } = 4;
    public Algorithm Algorithm { get; init; } = Algorithm.NoLoCo;
    public int InnerStepsPerRound { get; init; } = 8;
    public long Rounds { get; init; } = 6;
    /// <summary>Synchronous steps before the first round, as <c>node run --sync-warmup</c>.</summary>
    public int SyncWarmupSteps { get; init; }
    public string Codec { get; init; } = "fp32";
    /// <summary>NoLoCo over a lossy <see cref="Codec"/>: chain for the fast weights, sent as offsets from the initial weights (as the daemon).</summary>
    public string WeightsCodec { get; init; } = WeightsChain.Default;
    /// <summary>NoLoCo's payload, as <c>node run --payload</c> (null: the daemon's default for the chain).</summary>
    public Payload? Payload { get; init; }
    public bool Overlap { get; init; }
    public DiLoCoOptions DiLoCo { get; init; } = new();
    public NoLoCoOptions NoLoCo { get; init; } = new();
    public SparseLoCoOptions SparseLoCo { get; init; } = new();
    public long Seed { get; init; } = 7;
    public ModelConfig Model { get; init; } = new(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32);
    public InnerOptions Inner { get; init; } = new(LearningRate: 3e-3, WarmupSteps: 4, MicroBatchSize: 8, SequenceLength: 32);
    public NetworkOptions Network { get; init; } = new();
    public ComputeOptions Compute { get; init; } = new();
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public int EvalBatches { get; init; } = 4;

    /// <summary>Donors a joiner downloads the state from at once.</summary>
    public int StateDonorsMax { get; init; } = 4;

    /// <summary>Chunk size of state transfers (small, for the small models the simulator trains).</summary>
    public int StateChunkBytes { get; init; } = 16 << 10;

    /// <summary>Model size the links are timed for (0: the trained model's own): capacities scale by trained ÷ represented.</summary>
    public long RepresentedParameters { get; init; }

    /// <summary>Peers (by start index, joiners after the starting peers) that crash at the given virtual time, as a killed process would.</summary>
    public IReadOnlyList<(TimeSpan At, int Peer)> Crashes { get; init; } = [];

    /// <summary>Peers (by start index) that leave at the given virtual time: connections closed, then the process exits.</summary>
    public IReadOnlyList<(TimeSpan At, int Peer)> Leaves { get; init; } = [];

    /// <summary>Virtual times at which a new peer joins through peer 0's address and fetches the swarm's state.</summary>
    public IReadOnlyList<TimeSpan> Joins { get; init; } = [];

    /// <summary>
    /// Verification of partners' updates, as <c>node run --verify</c> (scored on one validation batch past those
    /// evaluated). Off by default here so the training scenarios stay comparable with <c>train</c>, whose in-process
    /// replicas are all honest.
    /// </summary>
    public VerifyOptions? Verify { get; init; }

    /// <summary>Peers (by start index) that misbehave, each with a <see cref="Node.Swarm.Misbehaviour"/> mode (<c>--misbehave</c>).</summary>
    public IReadOnlyList<(int Peer, string Mode)> Attackers { get; init; } = [];

    /// <summary>Virtual time after which the run is declared stuck.</summary>
    public TimeSpan Limit { get; init; } = TimeSpan.FromHours(12);

    public SwarmSimulationOptions Validate()
    {
        if (Peers < 2) throw new ArgumentException("a swarm simulation needs at least 2 peers");
        if (Algorithm == Algorithm.Ddp) throw new ArgumentException("the swarm runs diloco, noloco or sparseloco");
        if (InnerStepsPerRound < 1 || Rounds < 1) throw new ArgumentException("inner steps per round and rounds must be at least 1");
        foreach (var (_, peer) in Crashes.Concat(Leaves))
            if (peer < 0 || peer >= Peers + Joins.Count) throw new ArgumentException($"departure of peer {peer}: only peers 0..{Peers + Joins.Count - 1} ever run");
        if (Crashes.Concat(Leaves).Select(c => c.Peer).Distinct().Count() >= Peers + Joins.Count) throw new ArgumentException("at least one peer must stay to the end");
        foreach (var (peer, mode) in Attackers)
        {
            if (peer < 0 || peer >= Peers + Joins.Count) throw new ArgumentException($"attacker {peer}: only peers 0..{Peers + Joins.Count - 1} ever run");
            _ = new Node.Swarm.Misbehaviour(mode);
        }
        Inner.Validate();
        return this;
    }
}
