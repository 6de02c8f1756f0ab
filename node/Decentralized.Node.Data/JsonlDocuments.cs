using System.Text;
using System.Text.Json;

namespace Decentralized.Node.Data;

/// <summary>
/// Streams a JSON Lines file: one JSON object per line whose text field becomes one document.
/// Blank lines are skipped; any other malformed line stops the build with its file:line, because
/// silently dropping records would change the corpus without the user knowing.
/// </summary>
internal static class JsonlDocuments
{
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Each record's text with its line number (the record's unit in the held-out split).</summary>
    public static IEnumerable<(long Line, string Text)> Read(string path, Encoding encoding, CorpusOptions options)
    {
        var reader = new StreamReader(path, encoding, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        using var lines = new BoundedLineReader(reader, path, options.MaxLineChars);
        string? line;
        while ((line = lines.ReadLine()) is not null)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return (lines.LineNumber, ParseLine(line, path, lines.LineNumber, options.JsonlTextField));
        }
    }

    /// <summary>Extracts the text field of one JSONL record, or throws naming file:line.</summary>
    public static string ParseLine(string line, string path, long lineNumber, string field)
    {
        try
        {
            using var document = JsonDocument.Parse(line, ParseOptions);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad(path, lineNumber, $"expected a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}", field);
            }

            if (!root.TryGetProperty(field, out var text) || text.ValueKind != JsonValueKind.String)
            {
                throw Bad(path, lineNumber, $"no string field \"{field}\"", field);
            }

            return text.GetString() ?? string.Empty;
        }
        catch (JsonException ex)
        {
            // JsonException messages are one line; drop the trailing position detail we already give.
            var detail = ex.Message.Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
            throw Bad(path, lineNumber, $"invalid JSON ({detail})", field, ex);
        }
    }

    private static DataException Bad(string path, long lineNumber, string what, string field, Exception? inner = null)
    {
        var message = $"{path}:{lineNumber}: {what}; each line of a .jsonl file must be a JSON object with a \"{field}\" string";
        return inner is null ? new DataException(message) : new DataException(message, inner);
    }
}
