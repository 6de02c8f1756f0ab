using System.CommandLine;
using System.Text.Json;
using Decentralized.Node.Generation;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized eval --model M --data FILE</c>: mean next-token cross-entropy over a text file (see
/// <see cref="WindowedLoss"/>); with <c>--split validation</c> over a corpus's validation split, the very batches
/// <c>train</c> and <c>node run</c> report their validation loss on, so a swarm's model and a train run compare exactly.
/// </summary>
public static class EvalCommand
{
    /// <summary>Largest text file read whole (the tokens are held in memory).</summary>
    public const long DataBytesMax = 1L << 30;

    public static Command Create()
    {
        var c = new Command("eval", "Mean next-token loss (nats) of a model over a text file, in windows of its context length.");
        var model = c.AddOptional<string>("model", "Exported directory, train checkpoint, or node data directory.");
        var data = c.AddOptional<string>("data", "UTF-8 text file to evaluate on (with --split validation: the corpus, as train's --data; default the embedded corpus).");
        var split = c.Add("split", "text: --data in windows of the context | validation: the corpus's validation split, as train and node run evaluate it.", "text");
        var batchSize = c.Add("batch-size", "--split validation: sequences per batch (train's --batch-size; it decides which tail of the split is left out).", 16);
        var evalBatches = c.Add("eval-batches", "--split validation: batches to evaluate (0: the whole split).", 0);
        var splitUnit = DataOptions.DeclareSplitUnit(c);
        var json = c.Add("json", "Print {\"loss\": ..., \"tokens\": ...} on stdout.", false);
        var load = ModelSourceOptions.Declare(c);
        c.SetAction(parse =>
        {
            var source = parse.GetValue(model) ?? throw new ArgumentException("--model DIR|CHECKPOINT is required");
            if (parse.GetValue(split) is "validation") return ValidationSplit(load(parse, source), parse.GetValue(data), splitUnit(parse), parse.GetValue(batchSize), parse.GetValue(evalBatches), parse.GetValue(json));
            if (parse.GetValue(split) is not "text") throw new ArgumentException($"--split {parse.GetValue(split)}: use text or validation");
            var path = parse.GetValue(data) ?? throw new ArgumentException("--data FILE is required");
            if (!File.Exists(path)) throw new ArgumentException($"data file {path} does not exist");
            if (new FileInfo(path).Length > DataBytesMax) throw new ArgumentException($"data file {path} is larger than {DataBytesMax >> 20} MiB");
            using var loaded = load(parse, source);
            var tokens = loaded.Tokenizer.Encode(File.ReadAllText(path));
            var total = WindowedLoss.Evaluate(loaded.Model, tokens);
            if (total.Predictions == 0) throw new ArgumentException($"data file {path} has {tokens.Length} tokens: too few to predict any");
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { loss = total.MeanNats, tokens = total.Predictions }));
            else
                Console.Error.WriteLine($"eval {loaded.Origin}: loss {total.MeanNats:F4} nats over {total.Predictions:N0} predictions");
            return 0;
        });
        return c;
    }

    /// <summary>The loss train reports as val_loss, for a loaded model: the corpus's validation batches at the model's context.</summary>
    private static int ValidationSplit(Decentralized.Node.Generation.LoadedModel loaded, string? corpusPath, Decentralized.Node.Data.DatasetSplitUnit splitUnit, int batchSize, int batches, bool json)
    {
        using var _ = loaded;
        var corpus = Decentralized.Node.Training.TrainingData.Open(new(corpusPath, loaded.Tokenizer.Id, null, splitUnit), line => Console.Error.WriteLine(line));
        var inner = new Decentralized.Node.Training.InnerOptions(MicroBatchSize: batchSize, SequenceLength: loaded.Model.Config.ContextLength);
        var validation = corpus.Validation(batchSize, inner.SequenceLength, batches > 0 ? batches : int.MaxValue);
        using var trainer = new Decentralized.Node.Training.InnerTrainer(loaded.Model, inner, TorchSharp.torch.CPU);
        double loss = trainer.Evaluate(validation);
        long tokens = validation.Count * (long)batchSize * inner.SequenceLength;
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { loss, tokens, split = "validation", split_unit = corpus.Dataset.Options.Unit.ToString().ToLowerInvariant(), validation_seen_fraction = corpus.Overlap.SeenFraction, validation_dropped_bytes = corpus.Overlap.DroppedLineBytes }));
        else Console.Error.WriteLine($"eval {loaded.Origin}: validation loss {loss:F4} nats over {tokens:N0} predictions ({validation.Count} batches of {batchSize} x {inner.SequenceLength})");
        return 0;
    }
}
