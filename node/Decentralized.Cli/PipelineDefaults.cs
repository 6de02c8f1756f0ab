using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// The pipeline both <c>pipeline local</c> and <c>pipeline run</c> train: a tiny byte-level model sized for CPUs (the
/// in-process demo and a swarm of daemons then behave alike, and a demo's numbers predict a real run's).
/// </summary>
public static class PipelineDefaults
{
    /// <summary>
    /// Local AdamW steps between a stage's outer rounds (H). Lower than <c>train</c>'s: a stage of this tiny model takes
    /// an AdamW step in milliseconds, so H = 10 still makes a round every second or two, which keeps demos and CheckFree's
    /// rebuilds (which start from the neighbours' latest round) lively.
    /// </summary>
    public const int DefaultInnerSteps = 10;

    /// <summary>Options for <paramref name="stages"/> stages of <paramref name="layersPerStage"/> blocks each, validated.</summary>
    public static PipelineOptions Options(int stages, int layersPerStage, bool checkFreePlus, ActivationCodecKind codec, long seed,
        TimeSpan heartbeat, TimeSpan peerTimeout, RoundSettings rounds, int innerSteps = DefaultInnerSteps)
    {
        if (stages is < 2 or > 16) throw new ArgumentException("--stages must be between 2 and 16");
        if (layersPerStage is < 1 or > 8) throw new ArgumentException("--layers-per-stage must be between 1 and 8");
        if (innerSteps is < 1 or > 100_000) throw new ArgumentException("--inner-steps must be between 1 and 100000");
        return new PipelineOptions
        {
            Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: stages * layersPerStage, Heads: 2, ContextLength: 32),
            StageCount = stages,
            Inner = new InnerOptions(LearningRate: 4e-3, WarmupSteps: 10, TotalSteps: 5000, MicroBatchSize: 8, SequenceLength: 32),
            InnerStepsPerRound = innerSteps,
            CheckFreePlus = checkFreePlus,
            Codec = codec,
            HeartbeatInterval = heartbeat,
            PeerTimeout = peerTimeout,
            Seed = seed,
            Outer = rounds.NoLoCo,
            Rounds = new RoundOptions { Overlap = rounds.Overlap, Payload = rounds.Payload, UpdateNormBound = rounds.NormBound, RoundTimeout = rounds.RoundTimeout,
                // A stage cannot score an update alone (it holds part of the model): clip and the cheap checks only.
                Verify = rounds.Verify },
            Compress = rounds.Compress,
            WeightsCompress = rounds.WeightsCompress,
        }.Validate();
    }

    /// <summary>bf16 | int8 | fp32, as typed on the command line.</summary>
    public static ActivationCodecKind ParseCodec(string text) => text.ToLowerInvariant() switch
    {
        "bf16" => ActivationCodecKind.Bf16,
        "int8" => ActivationCodecKind.Int8,
        "fp32" => ActivationCodecKind.Fp32,
        var other => throw new ArgumentException($"--codec must be bf16, int8 or fp32, not '{other}'"),
    };
}
