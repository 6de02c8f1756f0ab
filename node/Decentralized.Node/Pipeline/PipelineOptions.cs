using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// Options of a pipeline-parallel swarm (issue 7). Every peer of a swarm must use the same model, stage count,
/// sequence shape and codec; the rest is local.
/// </summary>
public sealed record PipelineOptions
{
    /// <summary>Model shape; its layer count must be a multiple of <see cref="StageCount"/> (CheckFree averages whole stages).</summary>
    public ModelConfig Model { get; init; } = ModelConfig.Tiny;

    /// <summary>Pipeline stages S. More stages mean less memory per peer and more hops per microbatch.</summary>
    public int StageCount { get; init; } = 2;

    /// <summary>Stage this peer serves; null picks the stage with the fewest live replicas when it joins.</summary>
    public int? Stage { get; init; }

    /// <summary>Inner AdamW and the microbatch shape (B = MicroBatchSize, T = SequenceLength).</summary>
    public InnerOptions Inner { get; init; } = new(LearningRate: 3e-3, WarmupSteps: 10, TotalSteps: 1000, MicroBatchSize: 8, SequenceLength: 32);

    /// <summary>Backward passes a stage accumulates per AdamW step. Raise it for smoother, rarer steps.</summary>
    public int BackwardsPerStep { get; init; } = 1;

    /// <summary>Local AdamW steps between outer rounds with the stage's other replicas (NoLoCo's H).</summary>
    public int InnerStepsPerRound { get; init; } = 20;

    /// <summary>Outer step among the replicas of one stage (NoLoCo, fast-weights form).</summary>
    public NoLoCoOptions Outer { get; init; } = new();

    /// <summary>How activations and their gradients travel. bf16 halves the bytes; int8 quarters them at some precision.</summary>
    public ActivationCodecKind Codec { get; init; } = ActivationCodecKind.Bf16;

    /// <summary>Largest activation payload accepted, checked from the header before reading. Default 64 MiB.</summary>
    public int ActivationBytesMax { get; init; } = 64 << 20;

    /// <summary>Largest control message (headers, heartbeats). Default 1 MiB.</summary>
    public int ControlBytesMax { get; init; } = 1 << 20;

    /// <summary>CheckFree+ (out-of-order microbatches, embedding/head copies on the neighbouring stages).</summary>
    public bool CheckFreePlus { get; init; }

    /// <summary>Share of microbatches that run with swapped stage order under CheckFree+ (the paper uses half).</summary>
    public double SwapShare { get; init; } = 0.5;

    /// <summary>Learning-rate multiplier of a stage rebuilt by CheckFree (the paper's code: 1.1).</summary>
    public double RecoveryLrScale { get; init; } = 1.1;

    /// <summary>Heartbeat period; a peer silent for <see cref="PeerTimeout"/> counts as gone.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Silence after which a peer leaves the live set. Lower it for faster recovery, raise it on lossy links.</summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Time one hop (and everything downstream of it) may take before the microbatch is retried elsewhere.</summary>
    public TimeSpan HopTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Replicas tried per hop before the microbatch is dropped.</summary>
    public int HopAttemptsMax { get; init; } = 3;

    /// <summary>How long an outer round waits for the partners' weights; late ones are skipped (the round never stalls).</summary>
    public TimeSpan OuterWaitMax { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Peers remembered; gossip beyond it is ignored.</summary>
    public int PeersMax { get; init; } = 256;

    /// <summary>Swarm seed: weights initialisation, routing and pairing derive from it.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>
    /// Driver losses a peer remembers (a long-lived daemon must not grow without bound); at least the newest half of
    /// it is kept. Raise it only to analyse long curves in-process.
    /// </summary>
    public int LossHistoryMax { get; init; } = 65_536;

    /// <summary>
    /// What every peer of one pipeline must share for hops, weights and rebuilds to mean the same thing (compared in
    /// every hello; a daemon also hashes it into its connection gate).
    /// </summary>
    public string SharedConfig => $"{Model.Hash()}|{StageCount}|{Inner.MicroBatchSize}x{Inner.SequenceLength}|{Codec}|{CheckFreePlus}";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public PipelineOptions Validate()
    {
        Model.Validate();
        Inner.Validate();
        Outer.Validate();
        Require(StageCount >= 2 && StageCount <= Model.Layers, "stage count must be between 2 and the layer count");
        Require(Model.Layers % StageCount == 0, "layer count must be a multiple of the stage count (CheckFree averages equal-shaped stages)");
        Require(Stage is null || (Stage >= 0 && Stage < StageCount), "stage must be between 0 and stage count - 1");
        Require(Inner.SequenceLength <= Model.ContextLength, "sequence length must not exceed the model context");
        Require(BackwardsPerStep >= 1, "backwards per step must be at least 1");
        Require(InnerStepsPerRound >= 1, "inner steps per round must be at least 1");
        Require(SwapShare is >= 0 and <= 1, "swap share must be in [0, 1]");
        Require(RecoveryLrScale > 0 && double.IsFinite(RecoveryLrScale), "recovery lr scale must be positive");
        Require(ActivationBytesMax >= 1024 && ControlBytesMax >= 1024, "message limits must be at least 1 KiB");
        Require(HopAttemptsMax >= 1, "hop attempts must be at least 1");
        Require(LossHistoryMax >= 16, "loss history must keep at least 16 points");
        Require(HeartbeatInterval > TimeSpan.Zero && PeerTimeout > HeartbeatInterval, "peer timeout must exceed the heartbeat interval");
        long activation = (long)Inner.MicroBatchSize * Inner.SequenceLength * Model.Dim;
        Require(ActivationCodec.EncodedBytes(Codec, activation) <= ActivationBytesMax, "one microbatch's activations exceed the activation byte limit");
        return this;
    }

    /// <summary>Values in one microbatch's activation tensor (B × T × C).</summary>
    public long ActivationValues => (long)Inner.MicroBatchSize * Inner.SequenceLength * Model.Dim;

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
