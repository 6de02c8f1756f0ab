using Decentralized.Node.Data;

namespace Decentralized.Node.Training;

/// <summary>Where a run's tokens come from: a user corpus or the embedded default, tokenized once into the cache.</summary>
/// <param name="CorpusPath">A text file, a folder of them or a .jsonl file; null for the embedded corpus.</param>
/// <param name="Tokenizer">byte or gpt2.</param>
/// <param name="CacheDir">Token cache folder; null for <see cref="EffectiveCacheDir"/>.</param>
/// <param name="SplitUnit">What validation holds out: whole documents (default) or, to re-score old results, chunks.</param>
public sealed record TrainingDataOptions(string? CorpusPath = null, string Tokenizer = "byte", string? CacheDir = null,
    DatasetSplitUnit SplitUnit = DatasetSplitUnit.Document)
{
    /// <summary>~/.cache/decentralized (or $XDG_CACHE_HOME/decentralized) unless set.</summary>
    public string EffectiveCacheDir => CacheDir ?? Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "decentralized");
}

/// <summary>Opens the dataset and hands out per-replica batch streams and the fixed validation batches.</summary>
public sealed class TrainingData
{
    public TrainingData(TokenDataset dataset, ITokenizer tokenizer, string source, ValidationOverlap overlap)
    {
        Dataset = dataset;
        Tokenizer = tokenizer;
        Source = source;
        Overlap = overlap;
    }

    /// <summary>
    /// Tokenizes the corpus into the cache on first use, then opens the cached tokens split as
    /// <see cref="TrainingDataOptions.SplitUnit"/> says, and logs how much of the validation text was seen in training.
    /// </summary>
    public static TrainingData Open(TrainingDataOptions options, Action<string>? log = null)
    {
        var tokenizer = Tokenizers.Create(options.Tokenizer);
        var split = DatasetSplitOptions.Default with { Unit = options.SplitUnit };
        if (split.Unit == DatasetSplitUnit.Document)
        {
            var files = options.CorpusPath is null
                ? TokenCache.GetOrBuildEmbeddedHeldOut(options.EffectiveCacheDir, tokenizer, split, log)
                : TokenCache.GetOrBuildHeldOutFromPath(options.EffectiveCacheDir, options.CorpusPath, tokenizer, split, log: log);
            if (files is not null)
            {
                return HeldOut(files, tokenizer, split, log);
            }

            log?.Invoke($"validation: the corpus has too few documents to hold whole ones out at fraction {split.ValidationFraction}; holding out chunks instead");
        }

        var file = options.CorpusPath is null
            ? TokenCache.GetOrBuildEmbedded(options.EffectiveCacheDir, tokenizer, log)
            : TokenCache.GetOrBuildFromPath(options.EffectiveCacheDir, options.CorpusPath, tokenizer, log: log);
        var data = ByChunk(new TokenDataset(file, split with { Unit = DatasetSplitUnit.Chunk }), tokenizer, file.Source);
        log?.Invoke($"validation: {data.Dataset.ValidationTokenCount:N0} tokens in chunks of the training documents; {data.Overlap.Describe()}");
        return data;
    }

    /// <summary>Byte-tokenized text held in memory (tests and simulations): one document, so its split is by chunk.</summary>
    public static TrainingData FromText(string text)
    {
        var tokenizer = new ByteTokenizer();
        var tokens = tokenizer.Encode(text).Select(t => (ushort)t).ToArray();
        var file = TokenFile.FromTokens(tokenizer.Id, tokenizer.VocabSize, tokens);
        return ByChunk(new TokenDataset(file, DatasetSplitOptions.Default with { Unit = DatasetSplitUnit.Chunk }), tokenizer, "memory");
    }

    private static TrainingData ByChunk(TokenDataset dataset, ITokenizer tokenizer, string source) =>
        new(dataset, tokenizer, source, ValidationOverlap.Measure(dataset, tokenizer));

    // Held-out documents may still repeat lines of training ones (boilerplate sentences); those are dropped.
    private static TrainingData HeldOut(HeldOutFiles files, ITokenizer tokenizer, DatasetSplitOptions split, Action<string>? log)
    {
        var kept = ValidationOverlap.DropSeenLines(files.Train.Tokens, files.Validation.Tokens, tokenizer, out var overlap);
        var dataset = TokenDataset.HeldOut(files.Train.Tokens.Span, kept, files.Train.VocabSize, split);
        log?.Invoke($"validation: {kept.Length:N0} tokens of held-out documents; {overlap.Describe()}");
        return new TrainingData(dataset, tokenizer, files.Train.Source, overlap);
    }

    public ITokenizer Tokenizer { get; }
    public TokenDataset Dataset { get; }
    public string Source { get; }

    /// <summary>How much of the validation text (line bytes) also occurs in training, and how much of it was dropped.</summary>
    public ValidationOverlap Overlap { get; }

    public IBatchSource ForReplica(long seed, int replica, int replicas, int batchSize, int sequenceLength) =>
        new ShardBatchSource(new BatchSampler(Dataset.Shard(seed, replica, replicas), batchSize, sequenceLength));

    /// <summary>
    /// <paramref name="batches"/> validation batches after the first <paramref name="after"/> (those a reported validation
    /// loss uses): what verification scores partners' updates on, never trained on and never reported. A validation
    /// split too small for both gives its last batches.
    /// </summary>
    public IReadOnlyList<long[]> HeldOut(int batchSize, int sequenceLength, int after, int batches)
    {
        var all = Validation(batchSize, sequenceLength, after + batches);
        return all.Skip(Math.Max(0, Math.Min(after, all.Count - batches))).ToArray();
    }

    /// <summary>The same validation batches every evaluation, so losses are comparable across steps and runs.</summary>
    public IReadOnlyList<long[]> Validation(int batchSize, int sequenceLength, int batches)
    {
        var v = Dataset.Validation(batchSize, sequenceLength, batches);
        return Enumerable.Range(0, v.BatchCount).Select(i =>
        {
            var buffer = new long[v.BatchElements];
            v.Fill(i, buffer);
            return buffer;
        }).ToArray();
    }
}
