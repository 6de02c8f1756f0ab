namespace Decentralized.Node.Data.Tests;

public class BatchSamplerTests
{
    private static TokenDataset Dataset(int seed) =>
        new(DatasetTests.RandomTokens((64 * 40) + 17, seed), 256, new DatasetSplitOptions { ChunkTokens = 64, ValidationFraction = 0.1 });

    private static long[][] Take(BatchSampler sampler, int batches)
    {
        var result = new long[batches][];
        for (var i = 0; i < batches; i++)
        {
            result[i] = new long[sampler.BatchElements];
            sampler.NextBatch(result[i]);
        }

        return result;
    }

    [Theory]
    [InlineData(1L, 3)]
    [InlineData(2L, 50)] // crosses several epoch boundaries
    public void RestoredStateReplaysTheIdenticalFollowingBatches(long seed, int warmup)
    {
        var dataset = Dataset(21);
        var sampler = new BatchSampler(dataset.Shard(seed, 1, 2), batchSize: 4, sequenceLength: 16);
        Take(sampler, warmup);
        var saved = sampler.GetState();
        var expected = Take(sampler, 40);

        var resumed = new BatchSampler(dataset.Shard(seed, 1, 2), batchSize: 4, sequenceLength: 16);
        resumed.Restore(saved);
        Assert.Equal(expected, Take(resumed, 40));

        sampler.Restore(saved); // and rewinding the same instance works too
        Assert.Equal(expected, Take(sampler, 40));
    }

    [Fact]
    public void SameSeedAndReplicaGiveTheSameStreamOthersDiffer()
    {
        var dataset = Dataset(22);
        var a = Take(new BatchSampler(dataset.Shard(5, 0, 2), 4, 16), 5);
        var b = Take(new BatchSampler(dataset.Shard(5, 0, 2), 4, 16), 5);
        var other = Take(new BatchSampler(dataset.Shard(5, 1, 2), 4, 16), 5);
        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void RowsAreContiguousTextFromTheShardOnly()
    {
        var dataset = Dataset(23);
        var shard = dataset.Shard(9, 0, 3);
        var sampler = new BatchSampler(shard, 8, 16);
        var tokens = dataset.Tokens.ToArray();
        var row = new long[sampler.BatchElements];
        for (var i = 0; i < 30; i++)
        {
            sampler.NextBatch(row);
            for (var b = 0; b < 8; b++)
            {
                var values = row.AsSpan(b * 17, 17).ToArray().Select(v => (ushort)v).ToArray();
                var owner = shard.Chunks.Where(c => ContainsRun(tokens, dataset.ChunkStart(c), dataset.ChunkLength(c), values));
                Assert.NotEmpty(owner);
            }
        }
    }

    [Fact]
    public void AnEpochVisitsEachWindowOnce()
    {
        var dataset = Dataset(24);
        var sampler = new BatchSampler(dataset.Shard(3, 0, 1), 1, 16);
        var windows = (int)sampler.WindowsPerEpoch;
        var seen = new HashSet<string>();
        var buffer = new int[17];
        for (var i = 0; i < windows; i++)
        {
            sampler.NextBatch(buffer);
            Assert.True(seen.Add(string.Join(",", buffer)), $"window {i} repeated within epoch 0");
        }

        Assert.Equal(new SamplerState(0, windows, sampler.Fingerprint), sampler.GetState());
        sampler.NextBatch(buffer);
        Assert.Equal(1, sampler.GetState().Epoch);
    }

    [Fact]
    public void StateFromAnotherShapeIsRefused()
    {
        var dataset = Dataset(25);
        var a = new BatchSampler(dataset.Shard(1, 0, 2), 4, 16);
        var b = new BatchSampler(dataset.Shard(1, 0, 2), 4, 8);
        var error = Assert.Throws<DataException>(() => b.Restore(a.GetState()));
        Assert.Contains("another corpus, shard, seed or batch shape", error.Message);
        Assert.Throws<ArgumentException>(() => a.NextBatch(new long[5]));
    }

    [Fact]
    public void SequenceLongerThanAChunkIsAClearError()
    {
        var dataset = Dataset(26);
        var error = Assert.Throws<DataException>(() => new BatchSampler(dataset.Shard(1, 0, 1), 2, 64));
        Assert.Contains("exceeds the chunk size", error.Message);
    }

    [Fact]
    public void ValidationBatchesAreFixedAndComeFromValidationChunks()
    {
        var dataset = Dataset(27);
        var first = dataset.Validation(batchSize: 2, sequenceLength: 15, maxBatches: 3);
        var second = dataset.Validation(batchSize: 2, sequenceLength: 15, maxBatches: 3);
        Assert.InRange(first.BatchCount, 1, 3);
        var tokens = dataset.Tokens.ToArray();
        for (var i = 0; i < first.BatchCount; i++)
        {
            var a = new long[first.BatchElements];
            var b = new long[second.BatchElements];
            first.Fill(i, a);
            second.Fill(i, b);
            Assert.Equal(a, b);
            var row = a.AsSpan(0, 16).ToArray().Select(v => (ushort)v).ToArray();
            Assert.Contains(dataset.ValidationChunks, c => ContainsRun(tokens, dataset.ChunkStart(c), dataset.ChunkLength(c), row));
        }
    }

    [Fact]
    public void TinyValidationSplitRepeatsRowsToFillABatch()
    {
        var dataset = Dataset(28);
        var validation = dataset.Validation(batchSize: 64, sequenceLength: 31, maxBatches: 10);
        Assert.Equal(1, validation.BatchCount);
        Assert.True(validation.DistinctRows < 64);
        var buffer = new int[validation.BatchElements];
        validation.Fill(0, buffer);
    }

    private static bool ContainsRun(ushort[] tokens, int start, int length, ushort[] run) =>
        tokens.AsSpan(start, length).IndexOf(run) >= 0;
}
