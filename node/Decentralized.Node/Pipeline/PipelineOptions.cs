using Decentralized.Node.Model;
using System.Globalization;
using Decentralized.Kernels;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
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

    /// <summary>Outer step among the replicas of one stage (NoLoCo: each stage pairs its replicas independently).</summary>
    public NoLoCoOptions Outer { get; init; } = new();

    /// <summary>
    /// How a stage's outer round runs on the round engine (overlap, payload, norm bound, round timeout); its seed is
    /// replaced per stage (<see cref="RoundsOf"/>) so stages pair independently.
    /// </summary>
    public RoundOptions Rounds { get; init; } = new() { RoundTimeout = TimeSpan.FromSeconds(30) };

    /// <summary>Codec chain for outer updates (node run's <c>--compress</c>): fp32 sends the fast weights exactly.</summary>
    public string Compress { get; init; } = "fp32";

    /// <summary>Over a lossy <see cref="Compress"/>: the chain for the fast weights, sent as offsets from the stage's seed weights.</summary>
    public string WeightsCompress { get; init; } = WeightsChain.Default;

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
    /// What every peer of one pipeline must share for hops, weights, rebuilds and outer rounds to mean the same thing, by
    /// the option that sets it (a daemon's connection gate names the ones that differ).
    /// </summary>
    public IReadOnlyDictionary<string, string> SharedSettings => new Dictionary<string, string>
    {
        ["model"] = Model.Hash(),
        ["stages"] = StageCount.ToString(CultureInfo.InvariantCulture),
        ["microbatch"] = $"{Inner.MicroBatchSize}x{Inner.SequenceLength}",
        ["codec"] = Codec.ToString(),
        ["checkfree-plus"] = CheckFreePlus ? "on" : "off",
        ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
        ["inner-steps"] = InnerStepsPerRound.ToString(CultureInfo.InvariantCulture),
        ["noloco"] = Outer.ToString(),
        ["compress"] = Compress,
        ["weights-compress"] = WeightsCompress,
        ["noloco-payload"] = Rounds.Payload?.ToString() ?? "default",
        ["overlap"] = Rounds.Overlap ? "on" : "off",
        ["verify"] = Rounds.Verify is { } v ? FormattableString.Invariant($"on, clip {v.ClipMultiple}x") : "off",
    };

    /// <summary><see cref="SharedSettings"/> as one line, compared in every hello.</summary>
    public string SharedConfig => string.Join("|", SharedSettings.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>The round engine's options for <paramref name="stage"/>: the grouping is seeded per stage so stages pair independently.</summary>
    public RoundOptions RoundsOf(int stage) => Rounds with { Seed = Seed * 1_000 + stage };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public PipelineOptions Validate()
    {
        Model.Validate();
        Inner.Validate();
        Outer.Validate();
        Rounds.Validate();
        Chain(Compress, "--compress");
        Chain(WeightsCompress, "--weights-compress");
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

    private static void Chain(string spec, string option)
    {
        try { CodecChain.Parse(spec); }
        catch (CodecException e) { throw new ArgumentException($"{option} {spec}: {e.Message}"); }
    }

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
