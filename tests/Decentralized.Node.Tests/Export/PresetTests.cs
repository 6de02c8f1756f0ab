using Decentralized.Node.Model;
using Decentralized.Node.Training;

namespace Decentralized.Node.Tests.Export;

/// <summary>The parameter count printed at start is the model's real one, and the large presets are what their names say.</summary>
public sealed class PresetTests
{
    [Theory]
    [InlineData("tiny", 256)]
    [InlineData("small", 50257)]
    [InlineData("custom", 300)]
    public void ParameterCountEqualsTheModels(string name, int vocab)
    {
        var config = (name == "custom" ? new ModelConfig(Dim: 48, Layers: 3, Heads: 6, MlpHidden: 100) : ModelConfig.Presets[name]) with { VocabSize = vocab };
        using var model = new ModelStage(config);
        Assert.Equal(model.parameters().Sum(p => p.numel()), config.ParameterCount);
        // The memory bill's Muon share: the matrices InnerTrainer hands Muon.
        Assert.Equal(model.HiddenMatrices().Sum(p => p.numel()), config.HiddenMatrixParameterCount);
    }

    [Theory]
    [InlineData("160m", 150e6, 170e6)]
    [InlineData("400m", 380e6, 420e6)]
    [InlineData("1b", 0.95e9, 1.05e9)]
    public void LargePresetsAreLlamaShapedAndSizedAsNamed(string name, double low, double high)
    {
        var config = ModelConfig.Presets[name].Validate();
        Assert.Equal(50257, config.VocabSize);
        Assert.Equal(64, config.HeadDim);
        Assert.InRange(config.ParameterCount, low, high);
        // The bill counts at least weights, gradients and AdamW's moments.
        long adamw = MemoryEstimate.TrainingBytes(config, new InnerOptions(), outerState: true);
        Assert.True(adamw > 24 * config.ParameterCount);
        // Muon keeps one momentum on the blocks' matrices instead of two moments: a smaller bill, still over weights,
        // gradients, the outer state and one moment everywhere.
        long muon = MemoryEstimate.TrainingBytes(config, new InnerOptions(Optimizer: InnerOptimizer.Muon), outerState: true);
        Assert.InRange(muon, 20 * config.ParameterCount, adamw - 2 * config.ParameterCount);
        Assert.Contains("Muon and AdamW", MemoryEstimate.Describe(config, new InnerOptions(Optimizer: InnerOptimizer.Muon), 1, outerState: true));
    }
}
