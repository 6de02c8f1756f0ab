using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Decentralized.Simulations.Output;

/// <summary>
/// The headline numbers of a scenario, written as <c>summary.json</c> with snake_case keys in insertion order.
/// Only simulated quantities go in (no wall-clock times, no paths), so the same seed gives the same bytes.
/// </summary>
public sealed class Summary
{
    private readonly JsonObject _root = new();

    /// <summary>Sets a top-level value.</summary>
    public Summary Set(string key, object? value)
    {
        _root[key] = ToNode(value);
        return this;
    }

    /// <summary>Sets a nested object built by <paramref name="build"/>.</summary>
    public Summary Section(string key, Action<Summary> build)
    {
        var child = new Summary();
        build(child);
        _root[key] = child._root;
        return this;
    }

    /// <summary>Sets an array of objects, one per item.</summary>
    public Summary List<T>(string key, IEnumerable<T> items, Action<Summary, T> build)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            var child = new Summary();
            build(child, item);
            array.Add(child._root);
        }
        _root[key] = array;
        return this;
    }

    /// <summary>The JSON text (indented, '\n' line ends).</summary>
    public override string ToString() =>
        _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }).Replace("\r\n", "\n") + "\n";

    /// <summary>Writes the summary to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToString(), new UTF8Encoding(false));

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        double d when !double.IsFinite(d) => null,
        double d => JsonValue.Create(Math.Round(d, 9)),
        float f => JsonValue.Create((double)f),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        IEnumerable<double> ds => new JsonArray(ds.Select(d => ToNode(d)).ToArray()),
        IEnumerable<string> ss => new JsonArray(ss.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
