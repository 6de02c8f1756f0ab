namespace Decentralized.Node.Data;

/// <summary>
/// One replica's disjoint share of the training chunks. The training chunk list is shuffled with
/// a permutation seeded by the run seed and dealt round-robin: replica r takes positions r, r+R,
/// r+2R, ... Every replica computes the same permutation locally, so shards of one
/// (seed, replica count) never overlap and together cover the training split.
/// </summary>
public sealed class ReplicaShard
{
    private const ulong ShardDomain = 0x5348415244UL; // "SHARD"
    private readonly int[] _chunks;

    private ReplicaShard(TokenDataset dataset, long seed, int replicaIndex, int replicaCount, int[] chunks)
    {
        Dataset = dataset;
        Seed = seed;
        ReplicaIndex = replicaIndex;
        ReplicaCount = replicaCount;
        _chunks = chunks;
        TokenCount = chunks.Sum(c => (long)dataset.ChunkLength(c));
    }

    /// <summary>The split this shard belongs to.</summary>
    public TokenDataset Dataset { get; }

    /// <summary>Run seed the permutation came from.</summary>
    public long Seed { get; }

    /// <summary>This replica's index in [0, <see cref="ReplicaCount"/>).</summary>
    public int ReplicaIndex { get; }

    /// <summary>Number of replicas the training chunks were dealt to.</summary>
    public int ReplicaCount { get; }

    /// <summary>Chunk indices of this shard, ascending.</summary>
    public IReadOnlyList<int> Chunks => _chunks;

    /// <summary>Tokens in this shard.</summary>
    public long TokenCount { get; }

    internal static ReplicaShard Create(TokenDataset dataset, long seed, int replicaIndex, int replicaCount)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (replicaCount < 1 || replicaIndex < 0 || replicaIndex >= replicaCount)
        {
            throw new ArgumentOutOfRangeException(nameof(replicaIndex), $"replica {replicaIndex} of {replicaCount} is not in [0, {replicaCount})");
        }

        var train = dataset.TrainChunks;
        if (train.Count < replicaCount)
        {
            throw new DataException(
                $"the training split has {train.Count} chunk(s) for {replicaCount} replicas; add text, lower the chunk size, or run fewer replicas");
        }

        var order = train.ToArray();
        var rng = new SplitMix64(Hash64.Combine(ShardDomain, (ulong)seed));
        rng.Shuffle(order);
        var mine = new List<int>(order.Length / replicaCount + 1);
        for (var i = replicaIndex; i < order.Length; i += replicaCount)
        {
            mine.Add(order[i]);
        }

        mine.Sort();
        return new ReplicaShard(dataset, seed, replicaIndex, replicaCount, mine.ToArray());
    }
}
