using System.CommandLine;

namespace Decentralized.Cli;

/// <summary>The <c>decentralized</c> command tree; callable in-process so tests run it like a user would.</summary>
public static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("decentralized: train one language model together over the ordinary internet (DiLoCo / NoLoCo).");
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(NodeCommand.Create());
        root.Subcommands.Add(KeygenCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(SwarmLocalCommand.Create());
        root.Subcommands.Add(PipelineLocalCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(Decentralized.Simulations.Scenarios.SimulationCommands.Create());
        return root;
    }

    /// <summary>
    /// How every command line is read: response files are off, so <c>--swarm-key @swarm.key</c> names a key file and a
    /// file's words can never become options (a key file holding "--http 0.0.0.0:80" must not open a port).
    /// </summary>
    public static ParserConfiguration Parsing => new() { ResponseFileTokenReplacer = null };

    public static int Run(string[] args)
    {
        var root = Build();
        // Config files: merge their values into the arguments of the command they belong to before parsing.
        Command? command = null;
        IEnumerable<Command> level = root.Subcommands;
        foreach (var word in args.TakeWhile(a => !a.StartsWith('-')))
        {
            var next = level.FirstOrDefault(c => c.Name == word);
            if (next is null) break;
            command = next;
            level = next.Subcommands;
        }
        try
        {
            if (command is not null)
            {
                var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                    .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
                args = ConfigFile.Merge(args, command.LongNames(), ArgValue(args, "--config"), env);
            }
            var parsed = root.Parse(args, Parsing);
            // Parse errors get the same one-line shape as every other user error.
            if (parsed.Errors.Count > 0 && command is not null) return CliErrors.Report(new ArgumentException(parsed.Errors[0].Message));
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            return CliErrors.Report(e);
        }
    }

    private static string? ArgValue(string[] args, string name)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == name && i + 1 < args.Length) return args[i + 1];
            if (args[i].StartsWith(name + "=")) return args[i][(name.Length + 1)..];
        }
        return null;
    }
}
