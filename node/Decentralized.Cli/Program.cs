using System.CommandLine;
using Decentralized.Cli;

var root = new RootCommand("decentralized: train one language model together over the ordinary internet (DiLoCo / NoLoCo).");
root.Subcommands.Add(TrainCommand.Create());

// Config files: merge their values into the arguments of the command they belong to before parsing.
var command = root.Subcommands.FirstOrDefault(c => args.Length > 0 && c.Name == args[0]);
try
{
    if (command is not null)
    {
        var configPath = ArgValue(args, "--config");
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        args = ConfigFile.Merge(args, command.LongNames(), configPath, env);
    }
    var parsed = root.Parse(args);
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (CliErrors.IsUserError(e))
{
    return CliErrors.Report(e);
}

static string? ArgValue(string[] args, string name)
{
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i] == name && i + 1 < args.Length) return args[i + 1];
        if (args[i].StartsWith(name + "=")) return args[i][(name.Length + 1)..];
    }
    return null;
}
