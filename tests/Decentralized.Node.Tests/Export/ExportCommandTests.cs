using System.Text.Json;
using Decentralized.Node.Data;
using Decentralized.Node.Export;
using Decentralized.Node.Generation;
using Decentralized.Node.Generation.Reference;

namespace Decentralized.Node.Tests.Export;

/// <summary>
/// A model trained with <c>decentralized train</c> comes out as an HF Llama directory whose loss, computed by a plain C#
/// transcription of HF's Llama forward, equals what <c>decentralized eval</c> reports; and it goes back in unchanged.
/// </summary>
[Collection("console")]
public sealed class ExportCommandTests(TrainedExport trained, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<TrainedExport>
{
    [Fact]
    public void EvalOfTheExportEqualsTheReferenceForwardOfHfLlama()
    {
        var (code, output, error) = TrainedExport.Run("eval", "--model", trained.Exported, "--data", trained.EvalText, "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        double loss = json.RootElement.GetProperty("loss").GetDouble();
        long predictions = json.RootElement.GetProperty("tokens").GetInt64();

        var tokens = new ByteTokenizer().Encode(File.ReadAllText(trained.EvalText));
        var model = ReferenceLlama.Load(trained.Exported);
        var reference = model.Loss(tokens);
        int context = model.Config.ContextLength;
        Assert.Equal(tokens.Length - (tokens.Length + context - 1) / context, predictions);
        Assert.Equal(reference.Predictions, predictions);
        double relative = Math.Abs(loss - reference.MeanNats) / reference.MeanNats;
        log.WriteLine($"eval {loss:R} over {predictions} predictions; reference {reference.MeanNats:R}; relative difference {relative:E2}");
        Assert.True(relative < 1e-4, $"eval {loss:R} vs reference {reference.MeanNats:R}: relative difference {relative:E2}");
        // A trained model, not a uniform one: 40 steps already beat ln(256) = 5.545 on this text.
        Assert.True(loss < 5.4, $"loss {loss}");
    }

    [Fact]
    public void EvalOfTheCheckpointEqualsEvalOfItsExport()
    {
        var (_, fromExport, _) = TrainedExport.Run("eval", "--model", trained.Exported, "--data", trained.EvalText, "--json");
        var (code, fromCheckpoint, error) = TrainedExport.Run("eval", "--model", trained.Checkpoint, "--data", trained.EvalText, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(fromExport, fromCheckpoint);
    }

    [Fact]
    public void ExportImportExportIsBitIdentical()
    {
        var again = Path.Combine(trained.Dir, "again");
        var (code, _, error) = TrainedExport.Run("export", trained.Exported, "--out", again);
        Assert.True(code == 0, error);
        var first = Directory.GetFiles(trained.Exported).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(first, Directory.GetFiles(again).Select(Path.GetFileName).Order().ToArray());
        Assert.Contains("model.safetensors", first);
        foreach (var name in first)
            Assert.True(File.ReadAllBytes(Path.Combine(trained.Exported, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(again, name!))), $"{name} differs");
    }

    [Fact]
    public void ExportHasHfNamesShapesAndConfig()
    {
        using var reader = SafetensorsReader.Open(Path.Combine(trained.Exported, "model.safetensors"));
        var shapes = reader.Tensors.ToDictionary(t => t.Name, t => string.Join("x", t.Shape));
        Assert.Equal(2 * 9 + 3, shapes.Count);
        Assert.Equal("256x64", shapes["model.embed_tokens.weight"]);
        Assert.Equal("64x64", shapes["model.layers.1.self_attn.k_proj.weight"]);
        Assert.Equal("192x64", shapes["model.layers.0.mlp.gate_proj.weight"]);
        Assert.Equal("64x192", shapes["model.layers.0.mlp.down_proj.weight"]);
        Assert.Equal("64", shapes["model.layers.1.post_attention_layernorm.weight"]);
        Assert.Equal("256x64", shapes["lm_head.weight"]);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(trained.Exported, "config.json")));
        var root = config.RootElement;
        Assert.Equal("LlamaForCausalLM", root.GetProperty("architectures")[0].GetString());
        Assert.Equal("llama", root.GetProperty("model_type").GetString());
        Assert.Equal(4, root.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(1e-5, root.GetProperty("rms_norm_eps").GetDouble());
        Assert.Equal(10000.0, root.GetProperty("rope_theta").GetDouble());
        Assert.Equal(64, root.GetProperty("max_position_embeddings").GetInt32());
        Assert.False(root.GetProperty("tie_word_embeddings").GetBoolean());
        Assert.Equal("float32", root.GetProperty("torch_dtype").GetString());
        Assert.Equal("byte", root.GetProperty("decentralized_tokenizer").GetString());
    }

    [Fact]
    public void HostileWeightsInAnExportedDirectoryEndInOneLineAndExitTwo()
    {
        var bad = Path.Combine(trained.Dir, "bad");
        Directory.CreateDirectory(bad);
        File.Copy(Path.Combine(trained.Exported, "config.json"), Path.Combine(bad, "config.json"), overwrite: true);
        var weights = File.ReadAllBytes(Path.Combine(trained.Exported, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(bad, "model.safetensors"), weights[..(weights.Length / 2)]);
        var (code, _, error) = TrainedExport.Run("eval", "--model", bad, "--data", trained.EvalText, "--json");
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: safetensors", lines[0]);
    }

    [Fact]
    public void ShapeAndConfigMismatchesAreRefusedNamingTheField()
    {
        var dir = Path.Combine(trained.Dir, "mismatch");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(trained.Exported, "model.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
        var config = File.ReadAllText(Path.Combine(trained.Exported, "config.json"));
        File.WriteAllText(Path.Combine(dir, "config.json"), config.Replace("\"intermediate_size\": 192", "\"intermediate_size\": 160"));
        var e = Assert.Throws<SafetensorsException>(() => HfLlamaDirectory.Read(dir));
        Assert.Equal(SafetensorsError.ShapeMismatch, e.Code);
        Assert.Contains("gate_proj", e.Message);

        File.WriteAllText(Path.Combine(dir, "config.json"), config.Replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2"));
        e = Assert.Throws<SafetensorsException>(() => HfLlamaDirectory.Read(dir));
        Assert.Equal(SafetensorsError.ConfigMismatch, e.Code);
        Assert.Contains("num_key_value_heads is 2", e.Message);

        File.WriteAllText(Path.Combine(dir, "config.json"), config);
        e = Assert.Throws<SafetensorsException>(() => HfLlamaDirectory.Read(dir, TestCorpus.TinyModel));
        Assert.Equal(SafetensorsError.ConfigMismatch, e.Code);
        Assert.Contains("hidden_size 64; this run's model has 32", e.Message);
    }

    [Fact]
    public void NonFiniteWeightIsRefused()
    {
        var dir = Path.Combine(trained.Dir, "nan");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(trained.Exported, "config.json"), Path.Combine(dir, "config.json"), overwrite: true);
        var weights = File.ReadAllBytes(Path.Combine(trained.Exported, "model.safetensors"));
        BitConverter.GetBytes(float.NaN).CopyTo(weights, weights.Length - 4);   // last value of lm_head
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), weights);
        var e = Assert.Throws<SafetensorsException>(() => LoadedModel.Load(dir));
        Assert.Equal(SafetensorsError.NonFinite, e.Code);
        Assert.Contains("lm_head.weight", e.Message);
    }
}
