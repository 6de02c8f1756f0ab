using Decentralized.Node.Export;
using Decentralized.Node.Generation.Reference;
using Decentralized.Node.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Export;

/// <summary>
/// Logits of our model equal, position by position, those of the plain C# transcription of HF's Llama run over the
/// exported files. The weights are drawn large so attention is sharp and position-dependent: a wrong rotary layout,
/// a swapped projection or a misplaced norm changes the logits far beyond the bound.
/// </summary>
public sealed class ReferenceLlamaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("reference-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ExportedLogitsMatchTheReferenceForward(int seed)
    {
        var config = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 4, ContextLength: 24, RopeTheta: 500.0, NormEps: 1e-6);
        using var model = new ModelStage(config, seed: seed);
        using (var noGrad = no_grad())
        using (var generator = new Generator((ulong)seed))
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("norm")) p.uniform_(0.5, 1.5, generator);
                else p.normal_(0, name.Contains(".wq") || name.Contains(".wk") ? 0.6 : 0.2, generator);
        HfLlamaDirectory.Write(model, "byte", _dir);
        var reference = ReferenceLlama.Load(_dir);
        var random = new Random(seed);
        var tokens = Enumerable.Range(0, 24).Select(_ => random.Next(256)).ToArray();

        var expected = reference.Logits(tokens);
        using var scope = NewDisposeScope();
        using var grad = no_grad();
        var actual = model.forward(tensor(tokens.Select(t => (long)t).ToArray(), new long[] { 1, tokens.Length }))[0].to(float64);
        var ours = actual.data<double>().ToArray();
        double worst = 0, scale = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < 256; v++)
            {
                worst = Math.Max(worst, Math.Abs(ours[t * 256 + v] - expected[t][v]));
                scale = Math.Max(scale, Math.Abs(expected[t][v]));
            }
        Assert.True(scale > 1, $"seed {seed}: logits too flat to test anything ({scale})");
        Assert.True(worst <= 1e-4 * scale, $"seed {seed}: logits differ by {worst} at scale {scale}");
    }
}
