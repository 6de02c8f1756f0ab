using System.CommandLine;
using Decentralized.Node.Export;

namespace Decentralized.Cli;

/// <summary><c>decentralized export SOURCE --out DIR</c>: a directory Hugging Face transformers loads as LlamaForCausalLM.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var c = new Command("export", "Write a trained model as a Hugging Face Llama directory (config.json, model.safetensors, tokenizer).");
        var source = new Argument<string>("source") { Description = "A train checkpoint, a node data directory (or its node.ckpt), or an exported directory." };
        c.Arguments.Add(source);
        var output = c.AddOptional<string>("out", "Directory to write (created; files in it are replaced).");
        var load = ModelSourceOptions.Declare(c);
        c.SetAction(parse =>
        {
            var dir = parse.GetValue(output) ?? throw new ArgumentException("--out DIR is required");
            using var loaded = load(parse, parse.GetValue(source)!);
            HfLlamaDirectory.Write(loaded.Model, loaded.Tokenizer.Id, dir);
            var config = loaded.Model.Config;
            Console.Error.WriteLine($"exported {loaded.Origin}: {config.ParameterCount:N0} parameters to {Path.GetFullPath(dir)}" +
                (loaded.Tokenizer.Id == "byte" ? " (byte-level tokenizer: see README, \"Get the model out\")" : " (with GPT-2 tokenizer files)"));
            return 0;
        });
        return c;
    }
}
