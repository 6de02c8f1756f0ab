namespace Decentralized.Kernels;

/// <summary>How a blockwise quantizer stores each block's scale on the wire.</summary>
public enum BlockScaleFormat
{
    /// <summary>IEEE float32 (4 bytes per block): the scale is exactly max|x| / q_max. The default.</summary>
    Fp32 = 0,

    /// <summary>bfloat16 (2 bytes per block; chain parameter <c>bf16</c>, e.g. <c>q4:bf16</c>): max|x| / q_max
    /// rounded up to the next bfloat16, so no value of the block overflows ±q_max, and the codes are taken
    /// against that rounded scale. Saves 16 bits per block (0.25 bit per value at block 64) for a step at
    /// most 2^-7 coarser (bfloat16 keeps 7 explicit mantissa bits).</summary>
    Bf16 = 1,
}
