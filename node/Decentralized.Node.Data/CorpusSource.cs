namespace Decentralized.Node.Data;

/// <summary>
/// Reads a user corpus lazily as a sequence of documents: a text file, a .jsonl file (one JSON
/// object per line with a "text" field) or a folder of them (recursively, in ordinal path order so
/// every machine sees the same sequence, skipping hidden entries). Nothing is held beyond the
/// current document, so corpora larger than memory stream through the tokenizer.
/// </summary>
public static class CorpusSource
{
    /// <summary>
    /// Enumerates the non-blank documents of <paramref name="path"/>, trimmed of surrounding
    /// whitespace. A missing path throws at once; the other errors surface during enumeration as
    /// <see cref="DataException"/>: a binary or non-UTF-8 file, a bad JSONL line (file:line), an
    /// over-long line, and finally an empty corpus.
    /// </summary>
    public static IEnumerable<string> Documents(string path, CorpusOptions? options = null) =>
        UnitDocuments(path, options).Select(d => d.Text);

    /// <summary>
    /// <see cref="Documents"/> with the unit each document is held out with (<see cref="CorpusDocument"/>): in a
    /// folder, a text file's relative path; a .jsonl record is "path#line"; a lone text file's pieces are "name#k".
    /// </summary>
    public static IEnumerable<CorpusDocument> UnitDocuments(string path, CorpusOptions? options = null)
    {
        options ??= CorpusOptions.Default;
        options.Validate();
        var files = ListFiles(path, options);
        var full = Path.GetFullPath(path);
        var root = File.Exists(full) ? Path.GetDirectoryName(full)! : full;
        var lone = files.Count == 1;
        return NonEmpty(files.SelectMany(file => Guard(ReadFile(file, Relative(root, file), lone, options), file)), path, files.Count);
    }

    /// <summary>
    /// The text files a corpus path stands for, in the order they are read: the file itself, or every non-hidden text
    /// file below a folder sorted by ordinal relative path (directory symlinks are not followed, which rules out
    /// cycles). Files of a folder that are not text are left out (<see cref="Scan"/> names them).
    /// </summary>
    /// <exception cref="DataException">The path does not exist, the folder holds too many files or no text at all.</exception>
    public static IReadOnlyList<string> ListFiles(string path, CorpusOptions? options = null) => Scan(path, options).Text;

    /// <summary>
    /// A corpus path's files, sorted into what is read and what is skipped. A folder is a dataset checkout or a docs
    /// tree as people have them, with indexes, images and archives beside the text: those are skipped (judged from each
    /// file's first 8 KiB) and the folder is refused only when no text is left. A single file is taken as given; if it
    /// is not text, reading it says so.
    /// </summary>
    public static CorpusFiles Scan(string path, CorpusOptions? options = null)
    {
        options ??= CorpusOptions.Default;
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new DataException("no corpus path given; pass a text file, a folder of text files, or a .jsonl file");
        }

        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            return new CorpusFiles([full], []);
        }

        if (!Directory.Exists(full))
        {
            throw new DataException($"corpus path '{path}' does not exist; pass a text file, a folder of text files, or a .jsonl file");
        }

        var all = new List<string>();
        Walk(full, all, options.MaxFiles, path);
        all.Sort((a, b) => string.CompareOrdinal(Relative(full, a), Relative(full, b)));
        var text = new List<string>();
        var skipped = new List<string>();
        var regular = all.Where(f => new FileInfo(f).LinkTarget is null).ToHashSet(StringComparer.Ordinal);
        foreach (var file in all)
        {
            // A link to a file of the same folder (Debian's fortunes: art.u8 -> art) would train on it twice.
            if (new FileInfo(file).ResolveLinkTarget(returnFinalTarget: true) is { } target && regular.Contains(target.FullName))
            {
                continue;
            }

            if (TextSniffer.IsText(file))
            {
                text.Add(file);
            }
            else
            {
                skipped.Add(Relative(full, file));
            }
        }

        if (text.Count == 0 && skipped.Count > 0)
        {
            throw new DataException($"corpus folder '{path}' has no text files: {CorpusFiles.Describe(skipped)}; point at a folder of text or .jsonl files");
        }

        return new CorpusFiles(text, skipped);
    }

    /// <summary>
    /// Checks a corpus path for content that cannot be read (first 8 KiB of each file) without reading documents, so a
    /// single binary file is reported before minutes of tokenizing, not after.
    /// </summary>
    /// <exception cref="DataException">The path is missing, or the file given is not text.</exception>
    public static void CheckFiles(string path, CorpusOptions? options = null)
    {
        foreach (var file in ListFiles(path, options))
        {
            TextSniffer.Check(file);
        }
    }

    /// <summary>True when a file is read as JSON Lines (by its .jsonl extension).</summary>
    public static bool IsJsonl(string path) => path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    // A text file of a folder is one unit; a lone text file has nothing else to hold out, so its pieces are units.
    private static IEnumerable<CorpusDocument> ReadFile(string file, string unit, bool lone, CorpusOptions options)
    {
        var encoding = TextSniffer.Check(file);
        return IsJsonl(file)
            ? JsonlDocuments.Read(file, encoding, options).Select(r => new CorpusDocument($"{unit}#{r.Line}", r.Text))
            : TextDocuments.Read(file, encoding, options.MaxDocumentChars).Select((text, k) => new CorpusDocument(lone ? $"{unit}#{k}" : unit, text));
    }

    private static void Walk(string root, List<string> files, int maxFiles, string shownPath)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        var enumeration = new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = true, AttributesToSkip = 0 };
        while (pending.Count > 0)
        {
            var directory = new DirectoryInfo(pending.Pop());
            foreach (var entry in directory.EnumerateFileSystemInfos("*", enumeration))
            {
                if (entry.Name.StartsWith('.') || (entry.Attributes & FileAttributes.Hidden) != 0)
                {
                    continue;
                }

                if (entry is DirectoryInfo sub)
                {
                    if (sub.LinkTarget is null)
                    {
                        pending.Push(sub.FullName);
                    }

                    continue;
                }

                files.Add(entry.FullName);
                if (files.Count > maxFiles)
                {
                    throw new DataException($"corpus folder '{shownPath}' has more than {maxFiles} files; point at a smaller folder or merge files");
                }
            }
        }
    }

    private static string Relative(string root, string file) =>
        Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');

    // Wraps low-level I/O failures during enumeration into one-line DataExceptions naming the file.
    private static IEnumerable<CorpusDocument> Guard(IEnumerable<CorpusDocument> documents, string file)
    {
        IEnumerator<CorpusDocument> enumerator;
        try
        {
            enumerator = documents.GetEnumerator();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"cannot read corpus file '{file}': {ex.Message}", ex);
        }

        using (enumerator)
        {
            while (true)
            {
                try
                {
                    if (!enumerator.MoveNext())
                    {
                        yield break;
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new DataException($"cannot read corpus file '{file}': {ex.Message}", ex);
                }

                yield return enumerator.Current;
            }
        }
    }

    private static IEnumerable<CorpusDocument> NonEmpty(IEnumerable<CorpusDocument> documents, string path, int fileCount)
    {
        var any = false;
        foreach (var document in documents)
        {
            var text = document.Text.Trim();
            if (text.Length == 0)
            {
                continue;
            }

            any = true;
            yield return document with { Text = text };
        }

        if (!any)
        {
            var what = fileCount switch
            {
                0 => "the folder has no visible files",
                1 => "it contains no text",
                _ => $"its {fileCount} files contain no text",
            };
            throw new DataException($"corpus '{path}' is empty: {what}; add text or point at another path");
        }
    }
}
