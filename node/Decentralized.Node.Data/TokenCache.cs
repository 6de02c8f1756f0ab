using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Decentralized.Node.Data;

/// <summary>
/// Tokenizes a corpus once and keeps the result in a cache folder as a token file named after a
/// key of (source identity, tokenizer, format version). The source identity is the corpus files'
/// relative paths, sizes and modification times (or the SDK version for the embedded corpus), so
/// editing a file rebuilds the cache and nothing else does. Builds are atomic (temp file, fsync,
/// rename) and serialised across processes by a lock file, so a local swarm of several nodes
/// tokenizes once. A corrupt or truncated cache entry is rebuilt.
/// </summary>
public static class TokenCache
{
    /// <summary>Part of every key; bump when reading or separating documents changes.</summary>
    public const int CorpusReaderVersion = 1;

    /// <summary>Longest wait for another process that is building the same entry.</summary>
    public static readonly TimeSpan LockWaitMax = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Returns the cached token file for <paramref name="sourceKey"/> and <paramref name="tokenizer"/>,
    /// building it from <paramref name="documents"/> (called only when a build is needed) if absent
    /// or damaged. <paramref name="log"/> receives one line per notable event.
    /// </summary>
    public static TokenFile GetOrBuild(
        string cacheDir,
        string sourceKey,
        string sourceDescription,
        Func<IEnumerable<string>> documents,
        ITokenizer tokenizer,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var path = CachePath(cacheDir, sourceKey, tokenizer);
        CreateFolder(cacheDir);
        var cached = TryOpenCached(path, tokenizer, log);
        if (cached is not null)
        {
            return cached;
        }

        using var gate = AcquireLock(path + ".lock", log);

        // Another process may have finished the same build while we waited for the lock.
        cached = TryOpenCached(path, tokenizer, log);
        return cached ?? Build(path, documents(), tokenizer, sourceDescription, log);
    }

    /// <summary>Cached tokens of a user corpus path (text file, folder, or .jsonl).</summary>
    public static TokenFile GetOrBuildFromPath(
        string cacheDir, string corpusPath, ITokenizer tokenizer, CorpusOptions? options = null, Action<string>? log = null)
    {
        options ??= CorpusOptions.Default;
        options.Validate();
        if (CorpusSource.Scan(corpusPath, options).SkipSummary(corpusPath) is { } skipped)
        {
            log?.Invoke(skipped);
        }

        var key = PathSourceKey(corpusPath, options);
        IEnumerable<string> Documents()
        {
            CorpusSource.CheckFiles(corpusPath, options);
            return CorpusSource.Documents(corpusPath, options);
        }

        return GetOrBuild(cacheDir, key, $"corpus {Path.GetFullPath(corpusPath)}", Documents, tokenizer, log);
    }

    /// <summary>Cached tokens of the embedded SDK-documentation corpus.</summary>
    public static TokenFile GetOrBuildEmbedded(string cacheDir, ITokenizer tokenizer, Action<string>? log = null) =>
        GetOrBuild(cacheDir, EmbeddedCorpus.SourceKey(), $"embedded {EmbeddedCorpus.Describe()}", EmbeddedCorpus.Documents, tokenizer, log);

    /// <summary>The embedded corpus split by whole assemblies (<see cref="GetOrBuildHeldOut"/>).</summary>
    public static HeldOutFiles? GetOrBuildEmbeddedHeldOut(string cacheDir, ITokenizer tokenizer, DatasetSplitOptions split, Action<string>? log = null) =>
        GetOrBuildHeldOut(cacheDir, EmbeddedCorpus.SourceKey(), $"embedded {EmbeddedCorpus.Describe()}", EmbeddedCorpus.UnitDocuments, tokenizer, split, log);

    /// <summary>A corpus path split by whole files or records (<see cref="GetOrBuildHeldOut"/>).</summary>
    public static HeldOutFiles? GetOrBuildHeldOutFromPath(
        string cacheDir, string corpusPath, ITokenizer tokenizer, DatasetSplitOptions split, CorpusOptions? options = null, Action<string>? log = null)
    {
        options ??= CorpusOptions.Default;
        options.Validate();
        IEnumerable<CorpusDocument> Documents()
        {
            CorpusSource.CheckFiles(corpusPath, options);
            return CorpusSource.UnitDocuments(corpusPath, options);
        }

        return GetOrBuildHeldOut(cacheDir, PathSourceKey(corpusPath, options), $"corpus {Path.GetFullPath(corpusPath)}", Documents, tokenizer, split, log);
    }

    /// <summary>
    /// The document split of a corpus as two cached token files, training and validation, each built like
    /// <see cref="GetOrBuild"/> from the documents <see cref="HeldOutSplit"/> assigns to it (the corpus is read once per
    /// file on the first build). Null when the rule holds out no unit or every unit: a corpus of one document, or too
    /// few for the validation fraction; the caller falls back to the chunk split and says so.
    /// </summary>
    public static HeldOutFiles? GetOrBuildHeldOut(
        string cacheDir,
        string sourceKey,
        string sourceDescription,
        Func<IEnumerable<CorpusDocument>> documents,
        ITokenizer tokenizer,
        DatasetSplitOptions split,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        split.Validate();
        var key = string.Create(CultureInfo.InvariantCulture, $"{sourceKey}|heldout:{split.SplitSeed}:{split.ValidationFraction:R}");
        var taken = 0L;
        IEnumerable<string> Part(bool validation)
        {
            taken = 0;
            foreach (var document in documents().Where(d => HeldOutSplit.IsValidation(d.Unit, split) == validation))
            {
                taken++;
                yield return document.Text;
            }
        }

        // A part that selected no document fails its build as an empty corpus; that case, and only it, means "no split".
        TokenFile? Build(string part, string description, bool validation)
        {
            try
            {
                return GetOrBuild(cacheDir, $"{key}|{part}", $"{description} {sourceDescription}", () => Part(validation), tokenizer, log);
            }
            catch (DataException) when (taken == 0)
            {
                return null;
            }
        }

        var validationFile = Build("validation", "held-out validation of", validation: true);
        var trainFile = validationFile is null ? null : Build("train", "training split of", validation: false);
        return trainFile is null ? null : new HeldOutFiles(trainFile, validationFile!);
    }

    /// <summary>
    /// Identity of a corpus path for cache keys: every file's relative path, size and modification
    /// time plus the reading options that change the token stream.
    /// </summary>
    public static string PathSourceKey(string corpusPath, CorpusOptions? options = null)
    {
        options ??= CorpusOptions.Default;
        var full = Path.GetFullPath(corpusPath);
        var files = CorpusSource.ListFiles(corpusPath, options);
        var baseDir = File.Exists(full) ? Path.GetDirectoryName(full)! : full;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"reader{CorpusReaderVersion}|doc{options.MaxDocumentChars}|field={options.JsonlTextField}\n"));
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            var line = string.Create(
                CultureInfo.InvariantCulture,
                $"{Path.GetRelativePath(baseDir, file).Replace('\\', '/')}|{info.Length}|{info.LastWriteTimeUtc.Ticks}\n");
            hash.AppendData(Encoding.UTF8.GetBytes(line));
        }

        return $"path:{full}:{Convert.ToHexStringLower(hash.GetHashAndReset())}";
    }

    /// <summary>Where the entry for this source and tokenizer lives: &lt;cacheDir&gt;/&lt;tokenizer&gt;-&lt;key&gt;.dctk.</summary>
    public static string CachePath(string cacheDir, string sourceKey, ITokenizer tokenizer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDir);
        ArgumentNullException.ThrowIfNull(sourceKey);
        var separator = string.Join(",", tokenizer.DocumentSeparator);
        var material = $"format{TokenFileFormat.Version}|reader{CorpusReaderVersion}|{tokenizer.Id}|{tokenizer.VocabSize}|sep={separator}|{sourceKey}";
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(material));
        return Path.Combine(Path.GetFullPath(cacheDir), $"{tokenizer.Id}-{Convert.ToHexStringLower(digest.AsSpan(0, 8))}.dctk");
    }

    /// <summary>
    /// Tokenizes <paramref name="documents"/> into a token file at <paramref name="outputPath"/>
    /// (documents joined by the tokenizer's separator) and opens it.
    /// </summary>
    /// <exception cref="DataException">The corpus is empty or the vocabulary does not fit in u16.</exception>
    public static TokenFile Build(string outputPath, IEnumerable<string> documents, ITokenizer tokenizer, string sourceDescription, Action<string>? log = null)
    {
        if (tokenizer.VocabSize is < 1 or > 65536)
        {
            throw new DataException($"tokenizer '{tokenizer.Id}' has {tokenizer.VocabSize} ids; token files hold at most 65536; use byte or gpt2");
        }

        var clock = Stopwatch.StartNew();
        long documentCount = 0, chars = 0;
        var separator = tokenizer.DocumentSeparator.ToArray();
        using (var writer = OpenWriter(outputPath, tokenizer, sourceDescription))
        {
            foreach (var document in documents)
            {
                if (documentCount > 0)
                {
                    writer.Append(separator);
                }

                writer.Append(tokenizer.Encode(document));
                chars += document.Length;
                documentCount++;
            }

            if (writer.Count == 0)
            {
                throw new DataException($"{sourceDescription} is empty: it produced no tokens; add text or point at another corpus");
            }

            writer.Commit();
            var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-6);
            log?.Invoke(string.Create(
                CultureInfo.InvariantCulture,
                $"tokenized {sourceDescription} with {tokenizer.Id}: {documentCount} documents, {chars / 1e6:F1} M chars -> {writer.Count / 1e6:F2} M tokens in {seconds:F1} s ({chars / 1e6 / seconds:F1} M chars/s) -> {outputPath}"));
        }

        return TokenFile.Open(outputPath);
    }

    private static TokenFileWriter OpenWriter(string outputPath, ITokenizer tokenizer, string sourceDescription)
    {
        try
        {
            return new TokenFileWriter(outputPath, tokenizer.Id, tokenizer.VocabSize, sourceDescription);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"cannot write token file next to '{outputPath}': {ex.Message}; choose a writable cache folder", ex);
        }
    }

    private static TokenFile? TryOpenCached(string path, ITokenizer tokenizer, Action<string>? log)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var file = TokenFile.Open(path);
            if (file.TokenizerId == tokenizer.Id && file.VocabSize == tokenizer.VocabSize)
            {
                log?.Invoke($"using cached tokens {path} ({file.Count} tokens, {file.TokenizerId})");
                return file;
            }

            log?.Invoke($"cache entry {path} was made by tokenizer {file.TokenizerId}; rebuilding");
        }
        catch (DataException ex)
        {
            log?.Invoke($"{ex.Message}; rebuilding it");
        }

        return null;
    }

    private static void CreateFolder(string cacheDir)
    {
        try
        {
            Directory.CreateDirectory(cacheDir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"cannot create cache folder '{cacheDir}': {ex.Message}; choose a writable cache folder", ex);
        }
    }

    // An exclusive lock on a side file (flock on Unix, a share-none handle on Windows). The OS
    // drops it when its holder dies, so a crashed builder never blocks others for good. Returns
    // null (build unlocked, still atomic) if locking is unsupported or the wait runs out.
    private static FileStream? AcquireLock(string lockPath, Action<string>? log)
    {
        var clock = Stopwatch.StartNew();
        var announced = false;
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            catch (IOException) when (clock.Elapsed < LockWaitMax)
            {
                if (!announced)
                {
                    log?.Invoke($"waiting for another process that is building {Path.GetFileNameWithoutExtension(lockPath)}");
                    announced = true;
                }

                Thread.Sleep(200);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }
}
