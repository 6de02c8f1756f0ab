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

    /// <summary>
    /// `eval --split validation` scores a model on the batches train reports val_loss on: a swarm member's model and a
    /// train run compare exactly (how the results document puts daemons beside `train --algorithm ddp`).
    /// </summary>
    /// A lone short text file is one document, so its split falls back to chunks; a folder holds whole files out.
    [Theory]
    [InlineData("file", "chunk")] [InlineData("folder", "document")]
    public void EvalOfTheValidationSplitEqualsTrainsReportedValidationLoss(string corpusKind, string splitUnit)
    {
        var corpus = corpusKind == "file" ? trained.Corpus : HeldOutFolder();
        var checkpoint = Path.Combine(trained.Dir, $"whole-split-{corpusKind}.ckpt");
        var (code, output, error) = TrainedExport.Run("train", "--model", "tiny", "--replicas", "2", "--algorithm", "diloco", "--steps", "10",
            "--inner-steps", "5", "--batch-size", "4", "--eval-every", "0", "--eval-batches", "100000", "--device", "cpu", "--data", corpus,
            "--cache-dir", Path.Combine(trained.Dir, "cache"), "--checkpoint", checkpoint, "--json");
        Assert.True(code == 0, error);
        using var reported = JsonDocument.Parse(output);
        double valLoss = reported.RootElement.GetProperty("val_loss").GetDouble();
        long tokens = reported.RootElement.GetProperty("validation_tokens").GetInt64();

        (code, output, error) = TrainedExport.Run("eval", "--model", checkpoint, "--split", "validation", "--data", corpus, "--batch-size", "4", "--json");
        Assert.True(code == 0, error);
        using var evaluated = JsonDocument.Parse(output);
        log.WriteLine($"train val_loss {valLoss:R} over {tokens} tokens; eval --split validation {evaluated.RootElement}");
        Assert.Equal(tokens, evaluated.RootElement.GetProperty("tokens").GetInt64());
        Assert.Equal(valLoss, evaluated.RootElement.GetProperty("loss").GetDouble(), 1e-9);
        Assert.Equal(splitUnit, reported.RootElement.GetProperty("split_unit").GetString());
        Assert.Equal(splitUnit, evaluated.RootElement.GetProperty("split_unit").GetString());
        Assert.Equal(reported.RootElement.GetProperty("validation_seen_fraction").GetDouble(), evaluated.RootElement.GetProperty("validation_seen_fraction").GetDouble());
    }

    // Ten files that train and the first two names the seeded rule holds out, so the folder has a document split.
    private string HeldOutFolder()
    {
        var folder = Path.Combine(trained.Dir, "folder");
        var split = Decentralized.Node.Data.DatasetSplitOptions.Default;
        var names = Enumerable.Range(0, 100_000).Select(i => $"doc{i}.txt");
        var chosen = names.Where(n => Decentralized.Node.Data.HeldOutSplit.IsValidation(n, split)).Take(2)
            .Concat(names.Where(n => !Decentralized.Node.Data.HeldOutSplit.IsValidation(n, split)).Take(10));
        Directory.CreateDirectory(folder);
        foreach (var (name, i) in chosen.Select((n, i) => (n, i)))
            File.WriteAllText(Path.Combine(folder, name), TestCorpus.Text(seed: 100 + i, sentences: 400));
        return folder;
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

    [Fact]
    public void TrainInitFromStartsFromTheExportedWeights()
    {
        var checkpoint = Path.Combine(trained.Dir, "init.ckpt");
        var (code, _, error) = TrainedExport.Run("train", "--model", "tiny", "--replicas", "1", "--algorithm", "ddp", "--steps", "1", "--lr", "1e-12", "--muon-lr", "1e-12",
            "--warmup", "1", "--batch-size", "2", "--seq-len", "16", "--eval-every", "0", "--eval-batches", "1", "--device", "cpu",
            "--data", trained.Corpus, "--cache-dir", Path.Combine(trained.Dir, "cache"), "--checkpoint", checkpoint, "--init-from", trained.Exported);
        Assert.True(code == 0, error);
        Assert.Contains("initial weights from", error);
        var out2 = Path.Combine(trained.Dir, "init-export");
        Assert.Equal(0, TrainedExport.Run("export", checkpoint, "--out", out2).Code);
        using var before = SafetensorsReader.Open(Path.Combine(trained.Exported, "model.safetensors"));
        using var after = SafetensorsReader.Open(Path.Combine(out2, "model.safetensors"));
        foreach (var t in before.Tensors)
        {
            var (a, b) = (before.ReadFloats(t.Name), after.ReadFloats(t.Name));
            double worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst < 1e-6, $"{t.Name} moved by {worst} after one step at lr 1e-12: it did not start from --init-from");
        }
    }

    [Fact]
    public void InitFromAnotherShapeIsRefusedNamingTheField()
    {
        var (code, _, error) = TrainedExport.Run("train", "--model", "small", "--steps", "1", "--device", "cpu", "--data", trained.Corpus,
            "--cache-dir", Path.Combine(trained.Dir, "cache"), "--init-from", trained.Exported);
        Assert.Equal(2, code);
        Assert.Contains("hidden_size 64; this run's model has 128", error);
    }

    [Fact]
    public void InitFromEntersTheSwarmConfigHash()
    {
        var settings = new Decentralized.Cli.NodeSettings { Model = Decentralized.Node.Model.ModelConfig.Tiny };
        var seeded = Decentralized.Cli.NodeDaemon.IdentityOf(settings, 256).ConfigHash;
        var initialised = Decentralized.Cli.NodeDaemon.IdentityOf(settings with { InitFrom = trained.Exported }, 256).ConfigHash;
        Assert.NotEqual(seeded, initialised);
        Assert.Equal(initialised, Decentralized.Cli.NodeDaemon.IdentityOf(settings with { InitFrom = trained.Exported }, 256).ConfigHash);
    }

    [Theory]
    [InlineData("export", "{dir}/missing.ckpt", "--out", "{dir}/x")]
    [InlineData("export", "{ckpt}")]
    [InlineData("eval", "--model", "{dir}", "--data", "{dir}/missing.txt")]
    [InlineData("eval", "--model", "{dir}/nothing-here", "--data", "{eval}")]
    [InlineData("generate", "--model", "{hf}", "--top-p", "0")]
    [InlineData("generate", "--model", "{ckpt}", "--replica", "5")]
    public void BadArgumentsEndInOneErrorLine(params string[] template)
    {
        var args = template.Select(a => a.Replace("{dir}", trained.Dir).Replace("{ckpt}", trained.Checkpoint)
            .Replace("{hf}", trained.Exported).Replace("{eval}", trained.EvalText)).ToArray();
        var (code, _, error) = TrainedExport.Run(args);
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: "), $"{string.Join(' ', template)}: {error}");
    }

    [Fact]
    public void ACheckpointTrainedWithOverridesNeedsThemToExport()
    {
        var checkpoint = Path.Combine(trained.Dir, "one-layer.ckpt");
        var (code, _, error) = TrainedExport.Run("train", "--model", "tiny", "--layers", "1", "--replicas", "1", "--algorithm", "ddp", "--steps", "1",
            "--batch-size", "2", "--seq-len", "16", "--eval-every", "0", "--eval-batches", "1", "--device", "cpu", "--data", trained.Corpus,
            "--cache-dir", Path.Combine(trained.Dir, "cache"), "--checkpoint", checkpoint);
        Assert.True(code == 0, error);
        (code, _, error) = TrainedExport.Run("export", checkpoint, "--out", Path.Combine(trained.Dir, "one-layer"));
        Assert.Equal(2, code);
        Assert.Contains("--layers", error);
        (code, _, error) = TrainedExport.Run("export", checkpoint, "--out", Path.Combine(trained.Dir, "one-layer"), "--preset", "tiny", "--layers", "1");
        Assert.True(code == 0, error);
        using var loaded = LoadedModel.Load(Path.Combine(trained.Dir, "one-layer"));
        Assert.Equal(1, loaded.Model.Config.Layers);
    }
}
