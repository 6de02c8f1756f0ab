namespace Decentralized.Kernels;

/// <summary>A verified blob header.</summary>
internal sealed record BlobHeader(CodecChain Chain, int ChunkElements, TensorDescriptor[] Tensors, ulong Checksum);
