using System.Text;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Tests;

/// <summary>A small learnable text and a tiny model, so simulated training tests take seconds.</summary>
public static class SimCorpus
{
    private static readonly Lazy<TrainingData> Shared = new(() => TrainingData.FromText(Text(seed: 11, sentences: 10_000)));

    public static TrainingData Data => Shared.Value;

    public static ModelConfig TinyModel => new(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32);

    public static InnerOptions Inner => new(LearningRate: 3e-3, WarmupSteps: 5, MicroBatchSize: 8, SequenceLength: 32);

    /// <summary>Sentences from a tiny grammar about the project itself.</summary>
    public static string Text(long seed, int sentences)
    {
        string[] subjects = ["the peer", "a node", "the swarm", "each replica", "the relay", "our model", "the link"];
        string[] verbs = ["sends", "averages", "receives", "checks", "trains", "stores", "drops"];
        string[] objects = ["the weights", "a gradient", "its state", "the round", "a message", "the loss", "a packet"];
        var random = new DeterministicRandom(seed);
        var text = new StringBuilder();
        for (int i = 0; i < sentences; i++)
            text.Append(subjects[random.Next(subjects.Length)]).Append(' ').Append(verbs[random.Next(verbs.Length)])
                .Append(' ').Append(objects[random.Next(objects.Length)]).Append(random.Next(4) == 0 ? ".\n" : ". ");
        return text.ToString();
    }
}
