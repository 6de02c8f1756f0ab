namespace Decentralized.Kernels;

/// <summary>One tensor to encode: its name, shape and values in row-major order on the CPU.
/// <c>Values.Length</c> must equal the product of <paramref name="Shape"/>.</summary>
/// <param name="Name">Unique name within one blob (for example the parameter's path).</param>
/// <param name="Shape">Dimensions; an empty array is a scalar.</param>
/// <param name="Values">The values, read but never written by the encoder.</param>
public sealed record TensorView(string Name, int[] Shape, ReadOnlyMemory<float> Values);
