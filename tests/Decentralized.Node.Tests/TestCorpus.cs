using System.Text;
using Decentralized.Node.Model;
using Decentralized.Node.Training;

namespace Decentralized.Node.Tests;

/// <summary>Small, deterministic, learnable text and a tiny model so training tests take seconds.</summary>
public static class TestCorpus
{
    private static readonly Lazy<TrainingData> Shared = new(() => TrainingData.FromText(Text(seed: 3, sentences: 12_000)));

    public static TrainingData Data => Shared.Value;

    /// <summary>Sentences drawn from a small grammar: structured enough that a tiny model learns it quickly.</summary>
    public static string Text(int seed, int sentences)
    {
        string[] subjects = { "the peer", "a node", "the swarm", "each replica", "the relay", "our model" };
        string[] verbs = { "sends", "averages", "receives", "checks", "trains", "stores" };
        string[] objects = { "the weights", "a gradient", "its state", "the round", "a message", "the loss" };
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int i = 0; i < sentences; i++)
            text.Append(subjects[random.Next(subjects.Length)]).Append(' ').Append(verbs[random.Next(verbs.Length)])
                .Append(' ').Append(objects[random.Next(objects.Length)]).Append(random.Next(4) == 0 ? ".\n" : ". ");
        return text.ToString();
    }

    public static ModelConfig TinyModel => new(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32);

    public static ComparisonOptions Options(Algorithm algorithm, int replicas = 2, int steps = 40, int h = 10) => new()
    {
        Replicas = replicas,
        Algorithm = algorithm,
        InnerStepsPerRound = h,
        StepsPerReplica = steps,
        Model = TinyModel,
        Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 5, TotalSteps: steps, MicroBatchSize: 8, SequenceLength: 32),
        EvalEvery = 0,
        EvalBatches = 4,
        Seed = 5,
    };

    public static LocalComparison Run(ComparisonOptions options, string codec = "fp32", string? weightsCodec = null) =>
        new(options, i => Data.ForReplica(options.Seed, i, options.Replicas, options.Inner.MicroBatchSize, options.Inner.SequenceLength),
            Data.Validation(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches),
            codec, TorchSharp.torch.CPU, weightsCodec);
}
