using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// Streams a plain text file as documents: the whole file when it is small, otherwise pieces of at
/// most <see cref="CorpusOptions.MaxDocumentChars"/> cut at paragraph (or line) breaks. Line endings
/// are normalised to \n so Windows and Unix copies of a corpus tokenize identically.
/// </summary>
internal static class TextDocuments
{
    public static IEnumerable<string> Read(string path, Encoding encoding, int maxChars)
    {
        using var reader = new StreamReader(path, encoding, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var block = new char[1 << 16];

        // Holds at most maxChars + one block: the pending document text.
        var pending = new char[maxChars + block.Length];
        var length = 0;
        var lastWasCr = false;
        int read;
        while ((read = reader.Read(block, 0, block.Length)) > 0)
        {
            length = AppendNormalised(block.AsSpan(0, read), pending, length, ref lastWasCr);
            while (length >= maxChars)
            {
                var cut = FindCut(pending.AsSpan(0, length), maxChars);
                yield return new string(pending, 0, cut);
                Array.Copy(pending, cut, pending, 0, length - cut);
                length -= cut;
            }
        }

        if (length > 0)
        {
            yield return new string(pending, 0, length);
        }
    }

    // \r\n and lone \r both become \n; a \r at the end of one block pairs with a \n starting the next.
    private static int AppendNormalised(ReadOnlySpan<char> source, char[] target, int length, ref bool lastWasCr)
    {
        foreach (var c in source)
        {
            if (c == '\n' && lastWasCr)
            {
                lastWasCr = false;
                continue;
            }

            lastWasCr = c == '\r';
            target[length++] = c == '\r' ? '\n' : c;
        }

        return length;
    }

    // Prefer a blank line in the second half of the window, then any newline, then a hard cut that
    // does not split a surrogate pair.
    private static int FindCut(ReadOnlySpan<char> text, int maxChars)
    {
        var window = text[..maxChars];
        var half = maxChars / 2;
        var paragraph = window.LastIndexOf("\n\n");
        if (paragraph >= half)
        {
            return paragraph + 2;
        }

        var line = window.LastIndexOf('\n');
        if (line >= half)
        {
            return line + 1;
        }

        return char.IsHighSurrogate(window[^1]) ? maxChars - 1 : maxChars;
    }
}
