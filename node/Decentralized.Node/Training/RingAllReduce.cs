namespace Decentralized.Node.Training;

/// <summary>Byte accounting shared by every method (ALGORITHMS.md, "Synchronous data-parallel baseline").</summary>
public static class RingAllReduce
{
    /// <summary>A ring all-reduce of a payload over k replicas sends 2(k−1)/k of it per replica.</summary>
    public static long BytesSentPerReplica(long payloadBytes, int replicas) =>
        replicas <= 1 ? 0 : 2 * (replicas - 1) * payloadBytes / replicas;
}
