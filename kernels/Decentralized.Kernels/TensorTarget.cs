namespace Decentralized.Kernels;

/// <summary>Where a decoded tensor goes: the expected name and shape, and a caller-owned buffer of
/// exactly the product of <paramref name="Shape"/> elements that the decoder overwrites.</summary>
/// <param name="Name">Name the blob must carry.</param>
/// <param name="Shape">Shape the blob must carry.</param>
/// <param name="Destination">Buffer written in place; unspecified contents if decoding fails.</param>
public sealed record TensorTarget(string Name, int[] Shape, Memory<float> Destination);
