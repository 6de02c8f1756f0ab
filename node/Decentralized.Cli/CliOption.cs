using System.CommandLine;

namespace Decentralized.Cli;

/// <summary>Small helpers so every command declares its options the same way and lists them for config files.</summary>
public static class CliOption
{
    public static Option<T> Add<T>(this Command command, string name, string description, T defaultValue)
    {
        var option = new Option<T>("--" + name) { Description = description, DefaultValueFactory = _ => defaultValue };
        command.Options.Add(option);
        return option;
    }

    public static Option<T?> AddOptional<T>(this Command command, string name, string description)
    {
        var option = new Option<T?>("--" + name) { Description = description };
        command.Options.Add(option);
        return option;
    }

    /// <summary>Long option names (without dashes) of a command, the keys its config file may use.</summary>
    public static IReadOnlyCollection<string> LongNames(this Command command) =>
        command.Options.Select(o => o.Name.TrimStart('-')).Where(n => n != "help" && n != "config" && n != "?" && n != "h").ToArray();
}
