using Decentralized.Node.Data;

namespace Decentralized.Node.Training;

/// <summary>Where a run's tokens come from: a user corpus or the embedded default, tokenized once into the cache.</summary>
public sealed record TrainingDataOptions(string? CorpusPath = null, string Tokenizer = "byte", string? CacheDir = null)
{
    /// <summary>~/.cache/decentralized (or $XDG_CACHE_HOME/decentralized) unless set.</summary>
    public string EffectiveCacheDir => CacheDir ?? Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "decentralized");
}

/// <summary>Opens the dataset and hands out per-replica batch streams and the fixed validation batches.</summary>
public sealed class TrainingData
{
    public TrainingData(TokenDataset dataset, ITokenizer tokenizer, string source)
    {
        Dataset = dataset;
        Tokenizer = tokenizer;
        Source = source;
    }

    /// <summary>Tokenizes the corpus into the cache on first use, then opens the cached token file.</summary>
    public static TrainingData Open(TrainingDataOptions options, Action<string>? log = null)
    {
        var tokenizer = Tokenizers.Create(options.Tokenizer);
        var file = options.CorpusPath is null
            ? TokenCache.GetOrBuildEmbedded(options.EffectiveCacheDir, tokenizer, log)
            : TokenCache.GetOrBuildFromPath(options.EffectiveCacheDir, options.CorpusPath, tokenizer, log: log);
        return new TrainingData(new TokenDataset(file), tokenizer, file.Source);
    }

    /// <summary>Byte-tokenized text held in memory (tests and simulations).</summary>
    public static TrainingData FromText(string text)
    {
        var tokenizer = new ByteTokenizer();
        var tokens = tokenizer.Encode(text).Select(t => (ushort)t).ToArray();
        return new TrainingData(new TokenDataset(TokenFile.FromTokens(tokenizer.Id, tokenizer.VocabSize, tokens)), tokenizer, "memory");
    }

    public ITokenizer Tokenizer { get; }
    public TokenDataset Dataset { get; }
    public string Source { get; }

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
