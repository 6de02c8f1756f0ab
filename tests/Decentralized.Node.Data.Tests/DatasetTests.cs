namespace Decentralized.Node.Data.Tests;

public class DatasetTests
{
    internal static ushort[] RandomTokens(int count, int seed, int vocab = 256)
    {
        var random = new Random(seed);
        var tokens = new ushort[count];
        for (var i = 0; i < count; i++)
        {
            tokens[i] = (ushort)random.Next(vocab);
        }

        return tokens;
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(99L)]
    public void SplitIsDeterministicDisjointAndComplete(long splitSeed)
    {
        var options = new DatasetSplitOptions { ChunkTokens = 64, ValidationFraction = 0.1, SplitSeed = splitSeed };
        var tokens = RandomTokens(64 * 500 + 10, 3);
        var a = new TokenDataset(tokens, 256, options);
        var b = new TokenDataset(tokens, 256, options);

        Assert.Equal(a.TrainChunks, b.TrainChunks);
        Assert.Equal(a.ValidationChunks, b.ValidationChunks);
        Assert.Empty(a.TrainChunks.Intersect(a.ValidationChunks));
        Assert.Equal(Enumerable.Range(0, a.ChunkCount), a.TrainChunks.Concat(a.ValidationChunks).Order());
        Assert.InRange(a.ValidationChunks.Count, 25, 80); // ~50 expected at p = 0.1 ($"seed {splitSeed}")
        Assert.Equal(tokens.Length, a.TrainTokenCount + a.ValidationTokenCount);
    }

    [Fact]
    public void DifferentSplitSeedsHoldOutDifferentChunks()
    {
        var tokens = RandomTokens(64 * 300, 4);
        var a = new TokenDataset(tokens, 256, new DatasetSplitOptions { ChunkTokens = 64, SplitSeed = 1, ValidationFraction = 0.1 });
        var b = new TokenDataset(tokens, 256, new DatasetSplitOptions { ChunkTokens = 64, SplitSeed = 2, ValidationFraction = 0.1 });
        Assert.NotEqual(a.ValidationChunks, b.ValidationChunks);
    }

    [Fact]
    public void SmallCorpusStillGetsTheMinimumValidation()
    {
        var dataset = new TokenDataset(RandomTokens(64 * 3, 5), 256, new DatasetSplitOptions { ChunkTokens = 64, ValidationFraction = 0, MinValidationChunks = 1 });
        Assert.Single(dataset.ValidationChunks);
        Assert.Equal(2, dataset.TrainChunks.Count);
    }

    [Fact]
    public void ShortRemainderJoinsTheLastChunk()
    {
        var dataset = new TokenDataset(RandomTokens(64 * 4 + 10, 6), 256, new DatasetSplitOptions { ChunkTokens = 64 });
        Assert.Equal(4, dataset.ChunkCount);
        Assert.Equal(74, dataset.ChunkLength(3));
        var withTail = new TokenDataset(RandomTokens(64 * 4 + 40, 6), 256, new DatasetSplitOptions { ChunkTokens = 64 });
        Assert.Equal(5, withTail.ChunkCount);
        Assert.Equal(40, withTail.ChunkLength(4));
    }

    [Fact]
    public void TooSmallCorpusSaysHowToFixIt()
    {
        var error = Assert.Throws<DataException>(() => new TokenDataset(RandomTokens(100, 7), 256));
        Assert.Contains("add text or lower the chunk size", error.Message);
    }

    [Theory]
    [InlineData(11L, 1)]
    [InlineData(11L, 2)]
    [InlineData(12L, 3)]
    [InlineData(13L, 7)]
    public void ShardsAreDisjointAndCoverTheTrainingSet(long seed, int replicas)
    {
        var dataset = new TokenDataset(RandomTokens(64 * 200, 8), 256, new DatasetSplitOptions { ChunkTokens = 64, ValidationFraction = 0.05 });
        var shards = Enumerable.Range(0, replicas).Select(r => dataset.Shard(seed, r, replicas)).ToList();
        var all = shards.SelectMany(s => s.Chunks).ToList();

        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(dataset.TrainChunks, all.Order());
        Assert.All(shards, s => Assert.InRange(s.Chunks.Count, dataset.TrainChunks.Count / replicas, (dataset.TrainChunks.Count / replicas) + 1));
        Assert.Equal(shards[0].Chunks, dataset.Shard(seed, 0, replicas).Chunks);
    }

    [Fact]
    public void MoreReplicasThanChunksIsAClearError()
    {
        var dataset = new TokenDataset(RandomTokens(64 * 3, 9), 256, new DatasetSplitOptions { ChunkTokens = 64 });
        var error = Assert.Throws<DataException>(() => dataset.Shard(1, 0, 5));
        Assert.Contains("run fewer replicas", error.Message);
    }
}
