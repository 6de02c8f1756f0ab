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
    public TrainingData(TrainingDataOptions options, Action<string>? log = null)
    {
        Tokenizer = Tokenizers.Create(options.Tokenizer);
        var file = options.CorpusPath is null
            ? TokenCache.GetOrBuildEmbedded(options.EffectiveCacheDir, Tokenizer, log)
            : TokenCache.GetOrBuildFromPath(options.EffectiveCacheDir, options.CorpusPath, Tokenizer, log: log);
        Dataset = new TokenDataset(file);
        Source = file.Source;
    }

    public ITokenizer Tokenizer { get; }
    public TokenDataset Dataset { get; }
    public string Source { get; }

    public IBatchSource ForReplica(long seed, int replica, int replicas, int batchSize, int sequenceLength) =>
        new ShardBatchSource(new BatchSampler(Dataset.Shard(seed, replica, replicas), batchSize, sequenceLength));

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
