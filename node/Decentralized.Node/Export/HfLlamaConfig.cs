using System.Text.Json;
using System.Text.Json.Nodes;
using Decentralized.Node.Model;

namespace Decentralized.Node.Export;

/// <summary>
/// config.json of a Hugging Face <c>LlamaForCausalLM</c> directory, mapped to and from <see cref="ModelConfig"/>.
/// Our decoder is HF's Llama with num_key_value_heads = num_attention_heads (no grouped-query attention), no biases,
/// untied input and output embeddings, SiLU, default rotary embeddings (no scaling). The tokenizer our model was trained
/// with is stored under the extra key <c>decentralized_tokenizer</c> ("byte" or "gpt2"); transformers ignores it.
/// </summary>
public static class HfLlamaConfig
{
    public const string FileName = "config.json";
    public const string TokenizerKey = "decentralized_tokenizer";

    /// <summary>The config.json text for <paramref name="config"/>; the same input always gives the same bytes.</summary>
    public static string ToJson(ModelConfig config, string tokenizerId)
    {
        bool gpt2 = tokenizerId == Data.Gpt2Tokenizer.TokenizerId;
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = config.Dim,
            ["intermediate_size"] = config.EffectiveMlpHidden,
            ["num_attention_heads"] = config.Heads,
            ["num_key_value_heads"] = config.Heads,
            ["head_dim"] = config.HeadDim,
            ["num_hidden_layers"] = config.Layers,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = config.NormEps,
            ["rope_theta"] = config.RopeTheta,
            ["rope_scaling"] = null,
            ["vocab_size"] = config.VocabSize,
            ["max_position_embeddings"] = config.ContextLength,
            ["tie_word_embeddings"] = false,
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = 0.02,
            ["bos_token_id"] = gpt2 ? Data.Gpt2Tokenizer.EndOfText : null,
            ["eos_token_id"] = gpt2 ? Data.Gpt2Tokenizer.EndOfText : null,
            ["torch_dtype"] = "float32",
            [TokenizerKey] = tokenizerId,
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>
    /// Reads a config.json written by us or by anyone. Anything our decoder cannot compute exactly as HF's Llama does is
    /// refused with a <see cref="SafetensorsException"/> naming the field, its value and the one we need.
    /// Returns the tokenizer id when the file names it or the vocabulary implies it (256: byte, 50257: gpt2), else null.
    /// </summary>
    public static (ModelConfig Config, bool TiedEmbeddings, string? TokenizerId) Parse(string text, string path)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw Mismatch($"{path} is not a JSON object");
        }
        catch (JsonException e) { throw Mismatch($"{path} is not JSON ({e.Message})"); }
        var reader = new Fields(root, path);
        reader.Require("model_type", "llama");
        if (root["architectures"] is JsonArray arch && !arch.Any(a => a?.GetValueKind() == JsonValueKind.String && a.GetValue<string>() == "LlamaForCausalLM"))
            throw Mismatch($"{path} architectures is {arch.ToJsonString()}, not [\"LlamaForCausalLM\"]");
        int dim = reader.Int("hidden_size"), heads = reader.Int("num_attention_heads");
        reader.RequireInt("num_key_value_heads", heads, optional: true);
        if (heads > 0 && dim % heads == 0) reader.RequireInt("head_dim", dim / heads, optional: true);
        reader.Require("hidden_act", "silu", optional: true);
        reader.RequireFalse("attention_bias");
        reader.RequireFalse("mlp_bias");
        if (root["rope_scaling"] is not null) throw Mismatch($"{path} rope_scaling is {root["rope_scaling"]!.ToJsonString()}; only unscaled rotary embeddings (null) are supported");
        if (root["pretraining_tp"] is JsonNode tp && tp.GetValueKind() == JsonValueKind.Number && tp.GetValue<double>() != 1)
            throw Mismatch($"{path} pretraining_tp is {tp.ToJsonString()}; only 1 is supported");
        var config = new ModelConfig(
            VocabSize: reader.Int("vocab_size"), Dim: dim, Layers: reader.Int("num_hidden_layers"), Heads: heads,
            MlpHidden: reader.Int("intermediate_size"), ContextLength: reader.Int("max_position_embeddings"),
            RopeTheta: reader.Double("rope_theta", 10000.0), NormEps: reader.Double("rms_norm_eps", 1e-6));
        try { config.Validate(); }
        catch (ArgumentException e) { throw Mismatch($"{path}: {e.Message}"); }
        bool tied = root["tie_word_embeddings"] is JsonNode tie && tie.GetValueKind() == JsonValueKind.True;
        string? tokenizer = root[TokenizerKey]?.GetValueKind() == JsonValueKind.String ? root[TokenizerKey]!.GetValue<string>()
            : config.VocabSize == 256 ? Data.ByteTokenizer.TokenizerId
            : config.VocabSize == 50257 ? Data.Gpt2Tokenizer.TokenizerId : null;
        return (config, tied, tokenizer);
    }

    private static SafetensorsException Mismatch(string message) => new(SafetensorsError.ConfigMismatch, message);

    private readonly struct Fields(JsonObject root, string path)
    {
        public int Int(string name)
        {
            var node = root[name] ?? throw Mismatch($"{path} lacks {name}");
            if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue(out int v))
                throw Mismatch($"{path} {name} is {Short(node)}, not an integer");
            return v;
        }

        // HF's LlamaConfig defaults apply when a key is absent (rope_theta 10000, rms_norm_eps 1e-6).
        public double Double(string name, double fallback)
        {
            var node = root[name];
            if (node is null) return fallback;
            if (node.GetValueKind() != JsonValueKind.Number) throw Mismatch($"{path} {name} is {Short(node)}, not a number");
            return node.GetValue<double>();
        }

        public void Require(string name, string expected, bool optional = false)
        {
            var node = root[name];
            if (node is null && optional) return;
            if (node is null || node.GetValueKind() != JsonValueKind.String || node.GetValue<string>() != expected)
                throw Mismatch($"{path} {name} is {(node is null ? "missing" : Short(node))}; this model needs \"{expected}\"");
        }

        public void RequireInt(string name, int expected, bool optional)
        {
            var node = root[name];
            if ((node is null || node.GetValueKind() == JsonValueKind.Null) && optional) return;
            if (Int(name) != expected) throw Mismatch($"{path} {name} is {Int(name)}; this model needs {expected}");
        }

        public void RequireFalse(string name)
        {
            var node = root[name];
            if (node is not null && node.GetValueKind() == JsonValueKind.True)
                throw Mismatch($"{path} {name} is true; this model has no biases (HF Llama's default, false)");
        }

        private static string Short(JsonNode node) => SafetensorsHeader.Short(node.ToJsonString());
    }
}
