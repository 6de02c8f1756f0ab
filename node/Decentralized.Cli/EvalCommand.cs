using System.CommandLine;
using System.Text.Json;
using Decentralized.Node.Generation;

namespace Decentralized.Cli;

/// <summary><c>decentralized eval --model M --data FILE</c>: mean next-token cross-entropy over a text file (see <see cref="WindowedLoss"/>).</summary>
public static class EvalCommand
{
    /// <summary>Largest text file read whole (the tokens are held in memory).</summary>
    public const long DataBytesMax = 1L << 30;

    public static Command Create()
    {
        var c = new Command("eval", "Mean next-token loss (nats) of a model over a text file, in windows of its context length.");
        var model = c.AddOptional<string>("model", "Exported directory, train checkpoint, or node data directory.");
        var data = c.AddOptional<string>("data", "UTF-8 text file to evaluate on.");
        var json = c.Add("json", "Print {\"loss\": ..., \"tokens\": ...} on stdout.", false);
        var load = ModelSourceOptions.Declare(c);
        c.SetAction(parse =>
        {
            var source = parse.GetValue(model) ?? throw new ArgumentException("--model DIR|CHECKPOINT is required");
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
}
