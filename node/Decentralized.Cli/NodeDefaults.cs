namespace Decentralized.Cli;

/// <summary>Where a node keeps its files unless told otherwise.</summary>
public static class NodeDefaults
{
    public static string Home => Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
        ? Path.Combine(xdg, "decentralized")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "decentralized");

    public static string KeyFile => Path.Combine(Home, "identity.key");
    public static string DataDir => Path.Combine(Home, "node");
}
