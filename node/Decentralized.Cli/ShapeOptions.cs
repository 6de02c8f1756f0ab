using System.CommandLine;
using Decentralized.Node.Model;

namespace Decentralized.Cli;

/// <summary>
/// The model and batch shape options shared by <c>train</c>, <c>node run</c> and <c>swarm local</c>: one name and one
/// meaning each. Defaults that depend on each other are derived (the sequence length is the model's context unless
/// given), and a combination that cannot work is refused here, when the options are read, before any file, socket or
/// process exists, with one line naming the options and their values.
/// </summary>
public sealed record ShapeOptions(ModelConfig Model, string ModelName, int MicroBatchSize, int SequenceLength)
{
    /// <summary>Tokens one micro-batch holds; beyond this a forward pass's activations cannot be allocated on any machine we target.</summary>
    public const long MicroBatchTokensMax = 1L << 22;

    /// <summary>Adds <c>--model --layers --dim --heads --batch-size --seq-len</c> and returns their validated reader.</summary>
    public static Func<ParseResult, ShapeOptions> Declare(Command c, string defaultModel, int defaultBatch)
    {
        var model = c.Add("model", "Model preset: tiny (~0.13M parameters, context 64), small (~0.9M, context 128), or LLaMA shapes for --tokenizer gpt2: 160m, 400m, 1b.", defaultModel);
        var layers = c.AddOptional<int?>("layers", "Override the preset's layer count.");
        var dim = c.AddOptional<int?>("dim", "Override the preset's width.");
        var heads = c.AddOptional<int?>("heads", "Override the preset's head count (must divide the width).");
        var batch = c.Add("batch-size", "Sequences per micro-batch.", defaultBatch);
        var seqLen = c.AddOptional<int?>("seq-len", "Tokens per sequence (default: the model's context; at most that).");
        return parse => Resolve(parse.GetValue(model)!, parse.GetValue(layers), parse.GetValue(dim), parse.GetValue(heads),
            parse.GetValue(batch), parse.GetValue(seqLen));
    }

    /// <summary>Builds and checks the shape; every refusal names the options involved and their values.</summary>
    public static ShapeOptions Resolve(string modelName, int? layers, int? dim, int? heads, int batch, int? seqLen)
    {
        var preset = Preset(modelName);
        var m = preset with { Layers = layers ?? preset.Layers, Dim = dim ?? preset.Dim, Heads = heads ?? preset.Heads };
        string named = $"--model {modelName}" + (dim is null ? "" : $" --dim {dim}") + (heads is null ? "" : $" --heads {heads}");
        if (m.Layers is < 1 or > 1024) throw new ArgumentException($"--layers {m.Layers}: must be between 1 and 1024");
        if (m.Dim is < 8 or > 1 << 16) throw new ArgumentException($"--dim {m.Dim}: must be between 8 and 65536");
        if (m.Heads < 1 || m.Dim % m.Heads != 0)
            throw new ArgumentException($"--heads {m.Heads} does not divide the width {m.Dim} ({named}): choose heads that divide it");
        if (m.HeadDim % 2 != 0)
            throw new ArgumentException($"--heads {m.Heads} leaves an odd head width {m.HeadDim} ({named}); rotary embeddings need an even one");
        if (batch < 1) throw new ArgumentException($"--batch-size {batch}: must be at least 1");
        int t = seqLen ?? m.ContextLength;
        if (t < 2) throw new ArgumentException($"--seq-len {t}: must be at least 2");
        if (t > m.ContextLength)
            throw new ArgumentException($"--seq-len {t} exceeds the context {m.ContextLength} of --model {modelName}: use --seq-len {m.ContextLength} or less, or a larger model");
        if ((long)batch * t > MicroBatchTokensMax)
            throw new ArgumentException($"--batch-size {batch} x --seq-len {t} = {(long)batch * t:N0} tokens per micro-batch, more than {MicroBatchTokensMax:N0}: lower --batch-size");
        return new ShapeOptions(m.Validate(), modelName, batch, t);
    }

    public static ModelConfig Preset(string name) =>
        ModelConfig.Presets.TryGetValue(name.ToLowerInvariant(), out var preset)
            ? preset
            : throw new ArgumentException($"--model {name}: unknown preset, use {string.Join(", ", ModelConfig.Presets.Keys)}");
}
