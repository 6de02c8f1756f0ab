using Decentralized.Node.Model;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

/// <summary>--init draws the documented distributions, from the seed, and refuses what it does not know.</summary>
public sealed class WeightInitTests
{
    private static readonly ModelConfig Config = ModelConfig.Small;

    [Theory]
    [InlineData(1)] [InlineData(2)]
    public void TorchDefaultsGiveLinearWeightsStdOneOverRootThreeFanInAndAnEmbeddingOfStdOne(long seed)
    {
        using var model = new ModelStage(Config, seed: seed, init: WeightInit.Torch);
        foreach (var (name, p) in model.named_parameters())
        {
            var (std, mean, max) = Stats(p);
            if (name.EndsWith("norm.weight"))
            {
                Assert.True(std == 0 && mean == 1, $"{name}: norm gains start at one (seed {seed})");
            }
            else if (name.StartsWith("embed"))
            {
                Assert.InRange(std, 0.98, 1.02);
            }
            else
            {
                double fanIn = p.shape[1], expected = 1 / Math.Sqrt(3 * fanIn);
                Assert.True(Math.Abs(std / expected - 1) < 0.05, $"{name}: std {std:G4}, 1/sqrt(3 x {fanIn}) = {expected:G4} (seed {seed})");
                Assert.True(max <= 1 / Math.Sqrt(fanIn), $"{name}: |w| {max:G4} above the bound 1/sqrt(fan_in) (seed {seed})");
                Assert.True(Math.Abs(mean) < 0.05 * expected, $"{name}: mean {mean:G4} (seed {seed})");
            }
        }
    }

    [Theory]
    [InlineData("gpt2", 0.02)] [InlineData("scale=0.05", 0.05)] [InlineData("scale=0.02", 0.02)]
    public void TheGpt2ShapeDrawsItsStdAndShrinksResidualProjections(string text, double std)
    {
        using var model = new ModelStage(Config, seed: 3, init: WeightInit.Parse(text));
        var residual = std / Math.Sqrt(2.0 * Config.Layers);
        foreach (var (name, p) in model.named_parameters().Where(np => !np.name.EndsWith("norm.weight")))
        {
            var expected = name.EndsWith("wo.weight") || name.EndsWith("w2.weight") ? residual : std;
            Assert.True(Math.Abs(Stats(p).Std / expected - 1) < 0.05, $"{text} {name}: std {Stats(p).Std:G4}, expected {expected:G4}");
        }
    }

    [Fact]
    public void TheDefaultIsGpt2AndEachInitIsAPureFunctionOfTheSeed()
    {
        using var byDefault = new ModelStage(Config, seed: 5);
        using var gpt2 = new ModelStage(Config, seed: 5, init: WeightInit.Gpt2);
        using var torch1 = new ModelStage(Config, seed: 5, init: WeightInit.Torch);
        using var torch2 = new ModelStage(Config, seed: 5, init: WeightInit.Parse("torch"));
        Assert.True(Same(byDefault, gpt2));
        Assert.True(Same(torch1, torch2));
        Assert.False(Same(gpt2, torch1));
    }

    [Theory]
    [InlineData("uniform")] [InlineData("scale=0")] [InlineData("scale=-1")] [InlineData("scale=abc")] [InlineData("scale=11")]
    public void AnUnknownInitIsRefusedNamingTheOption(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => WeightInit.Parse(text));
        Assert.Contains($"--init '{text}'", error.Message);
        Assert.Contains("gpt2, torch or scale=X", error.Message);
    }

    [Theory]
    [InlineData("gpt2")] [InlineData("torch")] [InlineData("scale=0.1")]
    public void TheNameReadsBack(string text) => Assert.Equal(text, WeightInit.Parse(text).ToString());

    private static (double Std, double Mean, double Max) Stats(Tensor p)
    {
        using var scope = NewDisposeScope();
        return (p.std().item<float>(), p.mean().item<float>(), p.abs().max().item<float>());
    }

    private static bool Same(ModelStage a, ModelStage b)
    {
        using var scope = NewDisposeScope();
        return a.parameters().Zip(b.parameters()).All(pair => pair.First.eq(pair.Second).all().item<bool>());
    }
}
