using System.Text;
using System.Xml;

namespace Decentralized.Node.Data;

/// <summary>
/// Extracts the English prose of one reference-assembly XML documentation file: one document per
/// &lt;member&gt;, its summary / remarks / returns / param / exception / value text on separate
/// lines, inline references reduced to short names (&lt;see cref="T:System.String"/&gt; becomes
/// "String", &lt;see langword="null"/&gt; becomes "null"), whitespace collapsed.
/// </summary>
internal sealed class XmlDocProse
{
    /// <summary>Bumped whenever the extraction changes, so cached token files are rebuilt.</summary>
    public const int ExtractorVersion = 1;

    // Elements whose text starts a new line of the member's document.
    private static readonly HashSet<string> BlockElements = new(StringComparer.Ordinal)
    {
        "summary", "remarks", "returns", "param", "typeparam", "value", "exception", "example",
        "para", "p", "br", "list", "listheader", "item", "term", "description", "li", "ul", "ol",
    };

    // Elements that carry no prose for a reader of the text.
    private static readonly HashSet<string> SkippedElements = new(StringComparer.Ordinal)
    {
        "seealso", "inheritdoc", "include", "permission", "filterpriority", "forInternalUseOnly",
    };

    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = false,
        MaxCharactersInDocument = 256L << 20,
    };

    private const string Placeholder = "To be added.";

    private readonly StringBuilder _document = new();
    private readonly StringBuilder _line = new();
    private bool _pendingSpace;

    /// <summary>Yields one document per member with any prose, in file order.</summary>
    public static IEnumerable<string> Read(string xmlPath)
    {
        var extractor = new XmlDocProse();
        using var reader = XmlReader.Create(xmlPath, Settings);
        while (reader.Read())
        {
            if (reader.NodeType == XmlNodeType.Element && reader.Name == "member" && !reader.IsEmptyElement)
            {
                var text = extractor.ReadMember(reader);
                if (text.Length > 0)
                {
                    yield return text;
                }
            }
        }
    }

    /// <summary>
    /// Short display name of a cref or uid: "M:System.Collections.Generic.List`1.Add(`0)" becomes
    /// "Add", a constructor becomes its type's name.
    /// </summary>
    public static string ShortName(string reference)
    {
        var name = reference.Length > 2 && reference[1] == ':' ? reference[2..] : reference;
        var paren = name.IndexOf('(');
        if (paren >= 0)
        {
            name = name[..paren];
        }

        var segments = name.Split('.', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            return string.Empty;
        }

        var last = segments[^1];
        if ((last == "#ctor" || last == "#cctor") && segments.Length > 1)
        {
            last = segments[^2];
        }

        var hash = last.LastIndexOf('#');
        if (hash >= 0)
        {
            last = last[(hash + 1)..];
        }

        var tick = last.IndexOf('`');
        return tick >= 0 ? last[..tick] : last;
    }

    // Reader is on <member>; consumes through </member>.
    private string ReadMember(XmlReader reader)
    {
        _document.Clear();
        _line.Clear();
        _pendingSpace = false;
        var depth = reader.Depth;
        var more = reader.Read();
        while (more && !(reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth))
        {
            if (reader.NodeType == XmlNodeType.Element && SkippedElements.Contains(reader.Name))
            {
                // Skip() already lands on the node after the skipped element.
                reader.Skip();
                more = !reader.EOF;
                continue;
            }

            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    OnElement(reader);
                    break;
                case XmlNodeType.EndElement when BlockElements.Contains(reader.Name):
                    EndLine();
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA:
                    AppendText(CleanText(reader.Value));
                    break;
                case XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    AppendText(reader.Value);
                    break;
            }

            more = reader.Read();
        }

        EndLine();
        return _document.ToString().TrimEnd('\n');
    }

    private void OnElement(XmlReader reader)
    {
        var name = reader.Name;
        if (BlockElements.Contains(name))
        {
            EndLine();
            return;
        }

        var inline = InlineReplacement(reader, name);
        if (inline is not null)
        {
            AppendText(inline);
        }
    }

    // Self-describing inline references; elements with content (<c>, <a>, <see>text</see>) fall
    // through and their text nodes are appended as they come.
    private static string? InlineReplacement(XmlReader reader, string name)
    {
        var hasContent = !reader.IsEmptyElement;
        return name switch
        {
            "see" when !hasContent => reader.GetAttribute("langword")
                ?? ShortNameOrNull(reader.GetAttribute("cref"))
                ?? reader.GetAttribute("href"),
            "paramref" or "typeparamref" => reader.GetAttribute("name"),
            "xref" => ShortNameOrNull(reader.GetAttribute("uid")),
            _ => null,
        };
    }

    private static string? ShortNameOrNull(string? reference) => reference is null ? null : ShortName(reference);

    // A few SDK doc comments carry the tail of a mistyped tag as text (`<see cref="X"/>"/>`);
    // drop that artifact, which never occurs in prose.
    private static string CleanText(string text) =>
        text.Contains("\"/>", StringComparison.Ordinal) ? text.Replace("\"/>", string.Empty, StringComparison.Ordinal) : text;

    private void AppendText(string text)
    {
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                _pendingSpace = _line.Length > 0;
                continue;
            }

            if (_pendingSpace)
            {
                _line.Append(' ');
                _pendingSpace = false;
            }

            _line.Append(c);
        }
    }

    private void EndLine()
    {
        _pendingSpace = false;
        if (_line.Length == 0)
        {
            return;
        }

        // The SDK's placeholder for undocumented members is not prose worth learning.
        var isPlaceholder = _line.Length == Placeholder.Length && _line.ToString() == Placeholder;
        if (!isPlaceholder)
        {
            _document.Append(_line).Append('\n');
        }

        _line.Clear();
    }
}
