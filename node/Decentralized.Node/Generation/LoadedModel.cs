using Decentralized.Node.Checkpoints;
using Decentralized.Node.Data;
using Decentralized.Node.Export;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Generation;

/// <summary>
/// A whole model with its tokenizer, loaded from any of the places a trained model lives:
/// <list type="bullet">
/// <item>a Hugging Face Llama directory written by <c>decentralized export</c> (config.json + model.safetensors);</item>
/// <item>a node data directory, or the <c>node.ckpt</c> inside it (the daemon's checkpoint);</item>
/// <item>a <c>decentralized train --checkpoint</c> file (one replica's weights, replica 0 unless asked).</item>
/// </list>
/// Our checkpoints store the model's hash or the swarm's, not its shape, so the shape is found among the presets
/// (<see cref="ModelConfig.Presets"/>, each with the byte and the GPT-2 vocabulary) unless <c>config</c> names it.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    /// <summary>File name of the daemon's checkpoint inside its data directory.</summary>
    public const string NodeCheckpointFileName = CheckpointStore.FileName;

    private LoadedModel(ModelStage model, ITokenizer tokenizer, string origin)
    {
        Model = model;
        Tokenizer = tokenizer;
        Origin = origin;
        model.eval();
    }

    /// <summary>The model, one stage holding every layer, on the CPU.</summary>
    public ModelStage Model { get; }

    /// <summary>The tokenizer the model was trained with (from its vocabulary size or config.json).</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>What was loaded, for log lines ("train checkpoint x.ckpt, replica 0, preset small/byte").</summary>
    public string Origin { get; }

    /// <summary>
    /// Loads from <paramref name="path"/> (see the class summary). <paramref name="config"/> names the shape when a
    /// checkpoint was trained with overrides; <paramref name="replica"/> picks a replica of a train checkpoint.
    /// Bad input throws <see cref="CheckpointException"/>, <see cref="SafetensorsException"/> or <see cref="ArgumentException"/>.
    /// </summary>
    public static LoadedModel Load(string path, ModelConfig? config = null, int replica = 0)
    {
        if (HfLlamaDirectory.IsModelDirectory(path))
        {
            var (model, tokenizerId) = HfLlamaDirectory.Read(path, config);
            if (tokenizerId is null)
            {
                model.Dispose();
                throw new SafetensorsException(SafetensorsError.ConfigMismatch,
                    $"{path}/config.json names no tokenizer and its vocab_size {model.Config.VocabSize} is neither 256 (byte) nor 50257 (gpt2)");
            }
            return new LoadedModel(model, Tokenizers.Create(tokenizerId), $"HF Llama directory {path}");
        }
        if (Directory.Exists(path))
        {
            var node = Path.Combine(path, NodeCheckpointFileName);
            if (!File.Exists(node))
                throw new ArgumentException($"{path} holds neither config.json + model.safetensors (an exported model) nor {NodeCheckpointFileName} (a node's data directory)");
            path = node;
        }
        if (!File.Exists(path)) throw new ArgumentException($"model {path} does not exist");
        var candidates = config is not null ? [config] : Presets();
        long valuesMax = candidates.Max(c => c.ParameterCount);
        if (Path.GetFileName(path).StartsWith(NodeCheckpointFileName, StringComparison.Ordinal))   // node.ckpt and its rotation node.ckpt.1, .2
        {
            var (_, weights) = SwarmCheckpoint.ReadWeights(path, valuesMax);
            var match = Single(candidates.Where(c => c.ParameterCount == weights.LongLength), path, $"{weights.LongLength} parameters");
            return FromWeights(match, weights, $"node checkpoint {path}");
        }
        var (hash, algorithm, _, trained) = ComparisonCheckpoint.ReadReplicaWeights(path, replica, valuesMax);
        var found = Single(candidates.Where(c => c.Hash() == hash && c.ParameterCount == trained.LongLength), path, $"model hash {hash}");
        return FromWeights(found, trained, $"train checkpoint {path} ({algorithm}, replica {replica})");
    }

    /// <summary>The shapes a checkpoint may hold when none is named: the presets with either vocabulary.</summary>
    public static IReadOnlyList<ModelConfig> Presets() =>
        [.. ModelConfig.Presets.Values.SelectMany(p => new[] { 256, 50257 }.Select(v => p with { VocabSize = v }))];

    private static ModelConfig Single(IEnumerable<ModelConfig> matches, string path, string what)
    {
        var list = matches.ToArray();
        if (list.Length == 1) return list[0];
        throw new CheckpointException(list.Length == 0
            ? $"checkpoint {path} ({what}) matches no model shape tried; pass the --model/--layers/--dim/--heads/--tokenizer it was trained with"
            : $"checkpoint {path} ({what}) matches {list.Length} model shapes; pass --model/--layers/--dim/--heads/--tokenizer to choose");
    }

    private static LoadedModel FromWeights(ModelConfig config, float[] weights, string origin)
    {
        var tokenizerId = config.VocabSize switch
        {
            256 => ByteTokenizer.TokenizerId,
            50257 => Gpt2Tokenizer.TokenizerId,
            _ => throw new ArgumentException($"vocabulary size {config.VocabSize} belongs to no known tokenizer (byte: 256, gpt2: 50257)"),
        };
        var model = new ModelStage(config);
        try
        {
            using var scope = NewDisposeScope();
            new FlatParameters(model).Assign(tensor(weights));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new LoadedModel(model, Tokenizers.Create(tokenizerId), $"{origin}, {config.Layers} layers x {config.Dim}, vocabulary {tokenizerId}");
    }

    public void Dispose() => Model.Dispose();
}
