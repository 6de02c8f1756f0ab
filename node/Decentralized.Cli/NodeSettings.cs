using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>Everything a daemon needs, validated once at start (an impossible value stops it before it touches the network).</summary>
public sealed record NodeSettings
{
    public IReadOnlyList<string> Listen { get; init; } = ["/ip4/0.0.0.0/tcp/4001"];
    public string KeyFile { get; init; } = NodeDefaults.KeyFile;
    public string DataDir { get; init; } = NodeDefaults.DataDir;
    public IReadOnlyList<string> Bootstrap { get; init; } = [];
    /// <summary>Addresses announced instead of the automatic choice (a forwarded port, a DNS name); validated at start.</summary>
    public IReadOnlyList<string> Announce { get; init; } = [];
    /// <summary>Whether and how much this node relays for peers behind NATs.</summary>
    public RelaySettings Relay { get; init; } = new();
    public TrainingDataOptions Data { get; init; } = new();
    public ModelConfig Model { get; init; } = ModelConfig.Small;
    /// <summary>Hugging Face Llama directory whose weights the run starts from (their hash enters the config hash); null: seeded.</summary>
    public string? InitFrom { get; init; }

    /// <summary>How the starting weights are drawn from the swarm seed (<c>--init</c>); every member must use the same.</summary>
    public Decentralized.Node.Model.WeightInit Init { get; init; } = Decentralized.Node.Model.WeightInit.Gpt2;
    public InnerOptions Inner { get; init; } = new(TotalSteps: 100_000);
    public SwarmOptions Swarm { get; init; } = new();
    public DiLoCoOptions DiLoCo { get; init; } = new();
    public NoLoCoOptions NoLoCo { get; init; } = new();
    public SparseLoCoOptions SparseLoCo { get; init; } = new();
    /// <summary>Chain for the exchange; always set from --compress (whose default for a node is <see cref="Decentralized.Node.Training.UpdateChain.Default"/>).</summary>
    public string Compress { get; init; } = Decentralized.Node.Training.UpdateChain.Default;
    /// <summary>Chain for NoLoCo's fast weights when --compress is lossy (sent as offsets from the swarm's initial weights).</summary>
    public string WeightsCompress { get; init; } = WeightsChain.Default;
    public string Device { get; init; } = "auto";
    /// <summary>host:port of the status page, JSON status and Prometheus metrics; null: off.</summary>
    public string? Http { get; init; }
    public string? Report { get; init; }
    public int EvalBatches { get; init; } = 4;
    public int? ShardIndex { get; init; }
    public int ShardCount { get; init; } = 64;
    public int CheckpointEveryRounds { get; init; } = 1;
    /// <summary>Write the model as an HF Llama directory (data-dir/model) every N rounds and at exit; 0: never.</summary>
    public int ExportEveryRounds { get; init; }
    /// <summary>Emulated access link for every connection (<c>--link</c>): rate each way, one-way latency, loss; null: the real network as it is.</summary>
    public Decentralized.Protocol.Tcp.LinkShape? Link { get; init; }
    /// <summary>Fault injection for tests of the swarm's defences: send garbage or NaN updates.</summary>
    public string? Misbehave { get; init; }

    /// <summary>Throws the one-line error of the first impossible value (the daemon and <c>swarm local</c> both call this).</summary>
    public NodeSettings Validate()
    {
        Swarm.Validate(); Inner.Validate(); DiLoCo.Validate(); NoLoCo.Validate(); SparseLoCo.Validate(); Relay.Validate();
        return this;
    }
}
