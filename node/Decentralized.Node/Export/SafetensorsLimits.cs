namespace Decentralized.Node.Export;

/// <summary>
/// Bounds on a safetensors file from outside, all checked from the header before anything is allocated.
/// The defaults admit any model this code can train (about 1B parameters in float32) with room to spare.
/// </summary>
/// <param name="HeaderBytesMax">Largest JSON header. The reference implementation caps it at 100 MB; ours need a few KiB.</param>
/// <param name="TensorsMax">Most tensors in one file. Raise it only for models with thousands of layers.</param>
/// <param name="RankMax">Most dimensions per tensor (ours use 1 or 2).</param>
/// <param name="DataBytesMax">Largest data section. Raise it for models beyond ~16B float32 parameters.</param>
public sealed record SafetensorsLimits(
    int HeaderBytesMax = 16 << 20,
    int TensorsMax = 65_536,
    int RankMax = 8,
    long DataBytesMax = 64L << 30)
{
    public static SafetensorsLimits Default { get; } = new();
}
