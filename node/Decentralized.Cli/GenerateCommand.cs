using System.CommandLine;
using Decentralized.Node.Generation;

namespace Decentralized.Cli;

/// <summary><c>decentralized generate --model M --prompt TEXT</c>: streams sampled text to stdout as it is produced.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var c = new Command("generate", "Sample text from a model (KV-cached), streamed to stdout.");
        var model = c.AddOptional<string>("model", "Exported directory, train checkpoint, or node data directory.");
        var prompt = c.Add("prompt", "Text to continue.", "");
        var defaults = new GenerationOptions();
        var maxTokens = c.Add("max-tokens", "Tokens to generate.", defaults.MaxTokens);
        var temperature = c.Add("temperature", "Sampling temperature (0: greedy).", defaults.Temperature);
        var topK = c.Add("top-k", "Sample among the K most likely tokens (0: all).", defaults.TopK);
        var topP = c.Add("top-p", "Nucleus: smallest set of tokens reaching this probability (1: all).", defaults.TopP);
        var seed = c.Add("seed", "Sampler seed (same seed, same text).", defaults.Seed);
        var load = ModelSourceOptions.Declare(c);
        c.SetAction(parse =>
        {
            var source = parse.GetValue(model) ?? throw new ArgumentException("--model DIR|CHECKPOINT is required");
            var options = new GenerationOptions(parse.GetValue(maxTokens), parse.GetValue(temperature), parse.GetValue(topK),
                parse.GetValue(topP), parse.GetValue(seed)).Validate();
            using var loaded = load(parse, source);
            var text = parse.GetValue(prompt)!;
            Console.Write(text);
            foreach (var piece in new TextGenerator(loaded.Model, loaded.Tokenizer).Generate(text, options))
            {
                Console.Write(piece);
                Console.Out.Flush();
            }
            Console.WriteLine();
            return 0;
        });
        return c;
    }
}
