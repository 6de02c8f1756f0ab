namespace Decentralized.Kernels;

/// <summary>One tensor's entry in a blob header.</summary>
internal sealed record TensorDescriptor(string Name, int[] Shape, long ElementCount)
{
    /// <summary>Chunks this tensor occupies.</summary>
    public long ChunkCount(int chunkElements) => (ElementCount + chunkElements - 1) / chunkElements;
}
