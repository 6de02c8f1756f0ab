using Decentralized.Node.Data;
using Decentralized.Node.Generation;
using Decentralized.Node.Model;
using TorchSharp;

namespace Decentralized.Node.Tests.Export;

/// <summary>Generation (KV cache, context rollover) and eval leave no live tensors behind.</summary>
[Collection("torch")]
public sealed class GenerationLeakTests
{
    [Fact]
    public void GenerationAndEvalDoNotLeakTensors()
    {
        using var model = new ModelStage(TestCorpus.TinyModel, seed: 5);
        var tokenizer = new ByteTokenizer();
        var generator = new TextGenerator(model, tokenizer);
        var tokens = tokenizer.Encode(TestCorpus.Text(seed: 2, sentences: 20));
        void Work()
        {
            foreach (var _ in generator.GenerateTokens("a node ", new GenerationOptions(MaxTokens: 80, TopK: 10, Seed: 1))) { }
            WindowedLoss.Evaluate(model, tokens);
        }
        Work();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Work();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after <= live, $"live tensors grew from {live} to {after} over three generations of 80 tokens (past the 32-token context) and evals");
    }
}
