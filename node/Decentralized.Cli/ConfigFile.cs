using System.Text.Json;

namespace Decentralized.Cli;

/// <summary>
/// A JSON config file whose keys are a command's long option names (without dashes). Unknown keys are
/// refused by name, like nanoGPT's configurator. Command-line options override the file; the
/// environment variables DECENTRALIZED_&lt;NAME&gt; (upper case, dashes as underscores) sit in between.
/// </summary>
public static class ConfigFile
{
    public const long MaxBytes = 1 << 20;

    /// <summary>Returns <paramref name="args"/> with the file's and the environment's settings added for options not given on the command line.</summary>
    public static string[] Merge(string[] args, IReadOnlyCollection<string> knownOptions, string? path, IDictionary<string, string?> environment)
    {
        var given = new HashSet<string>(args.Where(a => a.StartsWith("--")).Select(a => a.Split('=')[0][2..]));
        var merged = new List<string>(args);
        foreach (var name in knownOptions)
        {
            var env = "DECENTRALIZED_" + name.ToUpperInvariant().Replace('-', '_');
            if (!given.Contains(name) && environment.TryGetValue(env, out var value) && value is not null)
            {
                merged.AddRange(Pair(name, value));
                given.Add(name);
            }
        }
        if (path is null) return merged.ToArray();
        foreach (var (name, value) in Read(path, knownOptions))
            if (!given.Contains(name)) merged.AddRange(Pair(name, value));
        return merged.ToArray();
    }

    private static IEnumerable<string> Pair(string name, string value) =>
        value == "true" ? new[] { "--" + name } : value == "false" ? Array.Empty<string>() : new[] { "--" + name, value };

    /// <summary>Reads the file's settings as option name → text value, refusing unknown keys and non-scalar values.</summary>
    public static IReadOnlyList<(string Name, string Value)> Read(string path, IReadOnlyCollection<string> knownOptions)
    {
        if (!File.Exists(path)) throw new ArgumentException($"config file {path} does not exist");
        if (new FileInfo(path).Length > MaxBytes) throw new ArgumentException($"config file {path} is larger than {MaxBytes} bytes");
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new ArgumentException($"config file {path} is not valid JSON: {e.Message}"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException($"config file {path} must hold one JSON object");
            var result = new List<(string, string)>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var name = property.Name.Replace('_', '-');
                if (!knownOptions.Contains(name))
                    throw new ArgumentException($"config file {path}: unknown key '{property.Name}' (valid keys: {string.Join(", ", knownOptions.Order())})");
                if (property.Value.ValueKind == JsonValueKind.Array)
                {
                    // A list (e.g. bootstrap addresses) becomes the option repeated.
                    foreach (var item in property.Value.EnumerateArray())
                        result.Add((name, item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText()));
                    continue;
                }
                result.Add((name, property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Number => property.Value.GetRawText(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => throw new ArgumentException($"config file {path}: key '{property.Name}' must be a string, number, boolean or list"),
                }));
            }
            return result;
        }
    }
}
