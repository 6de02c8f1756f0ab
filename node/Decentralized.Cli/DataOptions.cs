using System.CommandLine;
using Decentralized.Node.Data;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>Where the tokens come from and how validation is held out, declared once for <c>train</c> and <c>node run</c>.</summary>
public static class DataOptions
{
    /// <summary>Adds --data, --tokenizer, --cache-dir and --split-unit to <paramref name="c"/>.</summary>
    public static Func<ParseResult, TrainingDataOptions> Declare(Command c)
    {
        var data = c.AddOptional<string>("data", "A text file, a folder of them, or JSONL with a \"text\" field (default: the embedded corpus).");
        var tokenizer = c.Add("tokenizer", "byte | gpt2.", "byte");
        var cacheDir = c.AddOptional<string>("cache-dir", "Where tokenized corpora are cached (default ~/.cache/decentralized).");
        var splitUnit = DeclareSplitUnit(c);
        return parse => new TrainingDataOptions(parse.GetValue(data), parse.GetValue(tokenizer)!, parse.GetValue(cacheDir), splitUnit(parse));
    }

    /// <summary>Adds --split-unit alone (eval, whose --data means something else).</summary>
    public static Func<ParseResult, DatasetSplitUnit> DeclareSplitUnit(Command c)
    {
        var option = c.Add("split-unit",
            "What validation holds out: document (whole files, assemblies' docs or JSONL records; validation lines also seen in training are dropped) | chunk (random chunks of the training documents: the old split, only to re-score results made with it).",
            "document");
        return parse => ParseSplitUnit(parse.GetValue(option)!);
    }

    internal static DatasetSplitUnit ParseSplitUnit(string text) => text.ToLowerInvariant() switch
    {
        "document" => DatasetSplitUnit.Document,
        "chunk" => DatasetSplitUnit.Chunk,
        _ => throw new ArgumentException($"unknown --split-unit '{text}': use document or chunk"),
    };
}
