namespace Decentralized.Kernels;

/// <summary>How the (dense or top-k selected) values of a tensor are written.</summary>
public enum ValueCodecKind
{
    /// <summary>IEEE float32 as is (lossless); chain name <c>fp32</c>.</summary>
    Fp32 = 0,
    /// <summary>bfloat16, round to nearest even; chain name <c>bf16</c>.</summary>
    Bf16 = 1,
    /// <summary>IEEE half, round to nearest even, saturating at ±65504; chain name <c>fp16</c>.</summary>
    Fp16 = 2,
    /// <summary>Blockwise absmax signed 8-bit (q_max 127) with one fp32 scale per block; chain name
    /// <c>q8</c> or <c>int8</c>.</summary>
    Int8 = 3,
    /// <summary>Blockwise absmax signed 4-bit (q_max 7) with one fp32 scale per block; chain name
    /// <c>q4</c> or <c>int4</c>.</summary>
    Int4 = 4,
}
