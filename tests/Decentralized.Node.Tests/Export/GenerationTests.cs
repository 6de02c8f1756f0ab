using Decentralized.Node.Data;
using Decentralized.Node.Generation;
using Decentralized.Node.Model;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Export;

/// <summary>The KV-cached forward equals the full one; generation is seeded, exact in length, and runs past the context.</summary>
[Collection("console")]
public sealed class GenerationTests(TrainedExport trained) : IClassFixture<TrainedExport>
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void CachedForwardGivesTheLogitsOfTheFullForward(int seed)
    {
        using var loaded = LoadedModel.Load(trained.Exported);
        var model = loaded.Model;
        var random = new Random(seed);
        var ids = Enumerable.Range(0, 40).Select(_ => (long)random.Next(256)).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var all = tensor(ids, new long[] { 1, ids.Length });
        var full = model.forward(all);                                   // (1, 40, V)
        using var cache = new KvCache(model.Config.Layers);
        // A prefill, single steps, then a chunk of several positions (the masked path), then single steps again.
        var cuts = new[] { 0, 10, 11, 12, 13, 20, 25, 26, 40 };
        var parts = new List<Tensor>();
        for (int i = 0; i + 1 < cuts.Length; i++)
            parts.Add(model.Forward(all.narrow(1, cuts[i], cuts[i + 1] - cuts[i]), cache));
        var cached = cat(parts.ToArray(), 1);
        Assert.Equal(40, cache.Length);
        double difference = (cached - full).abs().max().item<float>();
        double scale = full.abs().max().item<float>();
        Assert.True(difference <= 1e-5 * Math.Max(1, scale), $"seed {seed}: cached logits differ from the full forward by {difference} (scale {scale})");
    }

    [Fact]
    public void SameSeedSameTokensAndExactlyMaxTokens()
    {
        using var loaded = LoadedModel.Load(trained.Exported);
        var generator = new TextGenerator(loaded.Model, loaded.Tokenizer);
        var options = new GenerationOptions(MaxTokens: 30, Temperature: 1.0, TopK: 50, TopP: 0.95, Seed: 11);
        var first = generator.GenerateTokens("the peer ", options).ToArray();
        var second = generator.GenerateTokens("the peer ", options).ToArray();
        Assert.Equal(30, first.Length);
        Assert.Equal(first, second);
        var other = generator.GenerateTokens("the peer ", options with { Seed = 12 }).ToArray();
        Assert.NotEqual(first, other);
        Assert.Equal(loaded.Tokenizer.Decode(first), string.Concat(generator.Generate("the peer ", options)));
    }

    [Fact]
    public void GreedyIsTheArgmaxOfTheFullForward()
    {
        using var loaded = LoadedModel.Load(trained.Exported);
        var generator = new TextGenerator(loaded.Model, loaded.Tokenizer);
        var prompt = new ByteTokenizer().Encode("a node sends ");
        var greedy = generator.GenerateTokens("a node sends ", new GenerationOptions(MaxTokens: 5, Temperature: 0)).ToArray();
        var sequence = prompt.Select(t => (long)t).ToList();
        using var noGrad = no_grad();
        foreach (var token in greedy)
        {
            using var scope = NewDisposeScope();
            var logits = loaded.Model.forward(tensor(sequence.ToArray(), new long[] { 1, sequence.Count }));
            Assert.Equal(logits[0, -1].argmax().item<long>(), token);
            sequence.Add(token);
        }
    }

    [Fact]
    public void GenerationRunsPastTheContextLength()
    {
        using var loaded = LoadedModel.Load(trained.Exported);
        int context = loaded.Model.Config.ContextLength;
        var tokens = new TextGenerator(loaded.Model, loaded.Tokenizer)
            .GenerateTokens(new string('x', 2 * context), new GenerationOptions(MaxTokens: 3 * context, Seed: 2)).ToArray();
        Assert.Equal(3 * context, tokens.Length);
        Assert.All(tokens, t => Assert.InRange(t, 0, 255));
    }

    [Fact]
    public void GenerateCommandPrintsThePromptAndItsContinuation()
    {
        var args = new[] { "generate", "--model", trained.Checkpoint, "--prompt", "the swarm ", "--max-tokens", "25", "--seed", "4", "--temperature", "0" };
        var (code, output, error) = TrainedExport.Run(args);
        Assert.True(code == 0, error);
        Assert.StartsWith("the swarm ", output);
        Assert.Equal(output, TrainedExport.Run(args).Output);
        using var loaded = LoadedModel.Load(trained.Checkpoint);
        var expected = new TextGenerator(loaded.Model, loaded.Tokenizer).GenerateTokens("the swarm ", new GenerationOptions(MaxTokens: 25, Temperature: 0));
        Assert.Equal("the swarm " + loaded.Tokenizer.Decode(expected.ToArray()) + Environment.NewLine, output);
    }

    [Fact]
    public void SamplerKeepsToTopKAndTopP()
    {
        float[] logits = [0f, 5f, 4.9f, -3f, 4.8f];
        var topOne = new TokenSampler(new GenerationOptions(Temperature: 5, TopK: 1, Seed: 3));
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, topOne.Next(logits)));
        var topTwo = new TokenSampler(new GenerationOptions(Temperature: 5, TopK: 2, Seed: 3));
        var drawn = Enumerable.Range(0, 200).Select(_ => topTwo.Next(logits)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 2 }, drawn);
        var nucleus = new TokenSampler(new GenerationOptions(Temperature: 1, TopP: 0.01, Seed: 3));
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, nucleus.Next(logits)));
    }
}
