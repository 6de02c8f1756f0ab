using System.CommandLine;
using Decentralized.Node.Data;
using Decentralized.Node.Generation;
using Decentralized.Node.Model;

namespace Decentralized.Cli;

/// <summary>
/// The options of export, eval and generate that say how to read a checkpoint: our checkpoints record a hash of the
/// model's shape, not the shape, so one trained with --layers/--dim/--heads overrides needs them again here.
/// </summary>
public static class ModelSourceOptions
{
    /// <summary>Adds the options to <paramref name="c"/> and returns the loader that reads them back.</summary>
    public static Func<ParseResult, string, LoadedModel> Declare(Command c)
    {
        var preset = c.AddOptional<string>("preset", "Shape the checkpoint was trained with: a --model preset of train (default: found among the presets).");
        var layers = c.AddOptional<int?>("layers", "Layer count the checkpoint was trained with (train --layers).");
        var dim = c.AddOptional<int?>("dim", "Width the checkpoint was trained with (train --dim).");
        var heads = c.AddOptional<int?>("heads", "Head count the checkpoint was trained with (train --heads).");
        var tokenizer = c.AddOptional<string>("tokenizer", "Tokenizer the checkpoint was trained with: byte | gpt2.");
        var replica = c.Add("replica", "Which replica of a train checkpoint to take.", 0);
        // As in train: on a shared or busy CPU, torch's one-thread-per-core default can be many times slower than 1.
        var threads = c.Add("threads", "CPU threads for tensor math (0: torch's default, one per core; 1 is fastest on a busy machine).", 0);
        return (parse, path) =>
        {
            if (parse.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            ModelConfig? config = null;
            var named = parse.GetValue(preset);
            if (named is not null || parse.GetValue(layers) is not null || parse.GetValue(dim) is not null || parse.GetValue(heads) is not null || parse.GetValue(tokenizer) is not null)
            {
                var shape = ShapeOptions.Resolve(named ?? "small", parse.GetValue(layers), parse.GetValue(dim), parse.GetValue(heads), batch: 1, seqLen: null).Model;
                config = shape with { VocabSize = Tokenizers.Create(parse.GetValue(tokenizer) ?? "byte").VocabSize };
            }
            return LoadedModel.Load(path, config, parse.GetValue(replica));
        };
    }
}
