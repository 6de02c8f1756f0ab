using Decentralized.Node.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Export;

/// <summary>
/// A directory that Hugging Face transformers loads as <c>LlamaForCausalLM</c> with no custom code:
/// config.json (<see cref="HfLlamaConfig"/>), model.safetensors (float32, HF names, <see cref="HfLlamaNames"/>) and,
/// for the GPT-2 vocabulary, the tokenizer files (<see cref="Gpt2TokenizerFiles"/>).
/// </summary>
public static class HfLlamaDirectory
{
    public const string WeightsFileName = "model.safetensors";

    /// <summary>True when <paramref name="path"/> is a directory holding config.json and model.safetensors.</summary>
    public static bool IsModelDirectory(string path) =>
        Directory.Exists(path) && File.Exists(Path.Combine(path, HfLlamaConfig.FileName)) && File.Exists(Path.Combine(path, WeightsFileName));

    /// <summary>Writes the whole model (one stage holding every layer) and its tokenizer description into <paramref name="directory"/>.</summary>
    public static void Write(ModelStage model, string tokenizerId, string directory)
    {
        if (model.StageCount != 1) throw new ArgumentException("only a whole model (one pipeline stage) can be exported");
        Directory.CreateDirectory(directory);
        var weights = Weights(model);
        var entries = HfLlamaNames.For(model.Config).Select(n => new SafetensorsWriter.Entry(n.Hf, n.Shape, weights[n.Ours])).ToArray();
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFileName), entries, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(directory, HfLlamaConfig.FileName), HfLlamaConfig.ToJson(model.Config, tokenizerId));
        if (tokenizerId == Data.Gpt2Tokenizer.TokenizerId) Data.Gpt2TokenizerFiles.Write(directory, model.Config.ContextLength);
    }

    /// <summary>
    /// Builds a model from an HF Llama directory (ours or anyone's), validating config.json and every tensor first.
    /// With <paramref name="expected"/>, a config that differs is refused naming the field and both values.
    /// </summary>
    public static (ModelStage Model, string? TokenizerId) Read(string directory, ModelConfig? expected = null, SafetensorsLimits? limits = null)
    {
        var configPath = Path.Combine(directory, HfLlamaConfig.FileName);
        if (!File.Exists(configPath)) throw new SafetensorsException(SafetensorsError.ConfigMismatch, $"{directory} has no {HfLlamaConfig.FileName}");
        var info = new FileInfo(configPath);
        if (info.Length > 1 << 20) throw new SafetensorsException(SafetensorsError.ConfigMismatch, $"{configPath} has {info.Length} bytes (at most 1 MiB)");
        var (config, tied, tokenizer) = HfLlamaConfig.Parse(File.ReadAllText(configPath), configPath);
        if (expected is not null) RequireSame(expected, config, configPath);
        using var reader = SafetensorsReader.Open(Path.Combine(directory, WeightsFileName), limits);
        var names = HfLlamaNames.For(config);
        CheckNames(reader, names, tied);
        var model = new ModelStage(config);
        try
        {
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using var noGrad = no_grad();
            foreach (var (hf, ours, shape) in names)
            {
                string source = tied && hf == "lm_head.weight" && !reader.Contains(hf) ? "model.embed_tokens.weight" : hf;
                using var scope = NewDisposeScope();
                parameters[ours].copy_(tensor(reader.ReadFloats(source)).view(shape));
            }
            return (model, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Every parameter of <paramref name="model"/> by our name, copied to float arrays on the CPU.</summary>
    public static Dictionary<string, float[]> Weights(ModelStage model)
    {
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters())
        {
            using var scope = NewDisposeScope();
            result[name] = p.detach().cpu().contiguous().data<float>().ToArray();
        }
        return result;
    }

    private static void CheckNames(SafetensorsReader reader, IReadOnlyList<(string Hf, string Ours, long[] Shape)> names, bool tied)
    {
        var byName = reader.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var (hf, _, shape) in names)
        {
            if (!byName.TryGetValue(hf, out var t))
            {
                if (tied && hf == "lm_head.weight") continue;
                throw new SafetensorsException(SafetensorsError.MissingTensor, $"model.safetensors lacks {hf}");
            }
            if (!t.Shape.SequenceEqual(shape))
                throw new SafetensorsException(SafetensorsError.ShapeMismatch, $"model.safetensors {hf} has shape [{string.Join(", ", t.Shape)}]; config.json implies [{string.Join(", ", shape)}]");
        }
        var known = names.Select(n => n.Hf).ToHashSet(StringComparer.Ordinal);
        // Older HF checkpoints carry the rotary inverse frequencies as a tensor; they are recomputed, never read.
        var extra = reader.Tensors.FirstOrDefault(t => !known.Contains(t.Name) && !t.Name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal));
        if (extra is not null)
            throw new SafetensorsException(SafetensorsError.MissingTensor, $"model.safetensors holds {SafetensorsHeader.Short(extra.Name)}, which a Llama of this config does not have");
    }

    private static void RequireSame(ModelConfig expected, ModelConfig found, string path)
    {
        void Same<T>(string field, T ours, T theirs)
        {
            if (!EqualityComparer<T>.Default.Equals(ours, theirs))
                throw new SafetensorsException(SafetensorsError.ConfigMismatch, $"{path} has {field} {theirs}; this run's model has {ours}");
        }
        Same("vocab_size", expected.VocabSize, found.VocabSize);
        Same("hidden_size", expected.Dim, found.Dim);
        Same("num_hidden_layers", expected.Layers, found.Layers);
        Same("num_attention_heads", expected.Heads, found.Heads);
        Same("intermediate_size", expected.EffectiveMlpHidden, found.EffectiveMlpHidden);
        Same("max_position_embeddings", expected.ContextLength, found.ContextLength);
        Same("rope_theta", expected.RopeTheta, found.RopeTheta);
        Same("rms_norm_eps", expected.NormEps, found.NormEps);
    }
}
