using Decentralized.Node.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

public sealed class ModelStageTests
{
    [Fact]
    public void SmallPresetHasAboutOneMillionParameters()
    {
        using var model = new ModelStage(ModelConfig.Small);
        long count = model.parameters().Sum(p => p.numel());
        Assert.InRange(count, 800_000, 1_000_000);
    }

    [Fact]
    public void ThreeStagesChainedEqualTheFullModel()
    {
        using var scope = NewDisposeScope();
        var config = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 5, Heads: 4, ContextLength: 16);
        using var full = new ModelStage(config, seed: 9);
        var stages = Enumerable.Range(0, 3).Select(s => new ModelStage(config, s, 3, seed: 9)).ToArray();
        Assert.True(stages[0].IsFirst && stages[2].IsLast);
        Assert.Equal(full.parameters().Sum(p => p.numel()), stages.Sum(s => s.parameters().Sum(p => p.numel())));
        var tokens = randint(0, 256, new long[] { 2, 16 }, dtype: int64);
        using var noGrad = no_grad();
        var expected = full.forward(tokens);                     // (B, T, V)
        var hidden = stages[0].forward(tokens);                  // (B, T, C)
        Assert.Equal(new long[] { 2, 16, 32 }, hidden.shape);
        var actual = stages[2].forward(stages[1].forward(hidden));
        Assert.True(allclose(expected, actual, rtol: 1e-4, atol: 1e-5), "stage-wise forward differs from the full model");
        foreach (var s in stages) s.Dispose();
    }

    [Fact]
    public void AttentionIsCausal()
    {
        using var scope = NewDisposeScope();
        using var model = new ModelStage(new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 16), seed: 1);
        using var noGrad = no_grad();
        var a = tensor(Enumerable.Range(0, 16).Select(i => (long)i).ToArray(), new long[] { 1, 16 });
        var b = a.clone();
        b[0, 15] = tensor(200L);   // changing the last token must not change earlier positions' logits
        var la = model.forward(a).narrow(1, 0, 15);
        var lb = model.forward(b).narrow(1, 0, 15);
        Assert.True(allclose(la, lb, rtol: 1e-5, atol: 1e-6));
    }

    [Theory]
    [InlineData(0, 64, 4)] [InlineData(4, 30, 4)] [InlineData(4, 64, 0)]
    public void ImpossibleShapesAreRefused(int layers, int dim, int heads)
    {
        Assert.Throws<ArgumentException>(() => new ModelConfig(Layers: layers, Dim: dim, Heads: heads).Validate());
    }
}
