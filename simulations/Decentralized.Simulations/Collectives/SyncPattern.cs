namespace Decentralized.Simulations.Collectives;

/// <summary>How the peers of an outer round exchange their vectors.</summary>
public enum SyncPattern
{
    /// <summary>NoLoCo: random pairs (a trio when odd), each member sends its vector to its partner(s).</summary>
    PairExchange,
    /// <summary>Bandwidth-optimal ring all-reduce: reduce-scatter then all-gather, 2(N−1) steps of payload/N.</summary>
    RingAllReduce,
    /// <summary>Binary-tree all-reduce: full payloads reduced up to the root, then broadcast down (2·⌈log2 N⌉ levels).</summary>
    TreeAllReduce,
}
