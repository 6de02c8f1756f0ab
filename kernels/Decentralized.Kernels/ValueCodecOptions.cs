namespace Decentralized.Kernels;

/// <summary>The value stage of a chain: which codec, and for the quantizers the block size, whether
/// rounding is stochastic and how block scales are stored.</summary>
/// <param name="Kind">The codec.</param>
/// <param name="BlockSize">Values per scale for <see cref="ValueCodecKind.Int8"/> and
/// <see cref="ValueCodecKind.Int4"/> (a multiple of 16 in [16, 65536], default 64); 0 otherwise.</param>
/// <param name="StochasticRounding">Round to one of the two neighbouring levels with probability
/// proportional to proximity (unbiased), from a seeded counter-based generator; quantizers only.</param>
/// <param name="ScaleFormat">How each block's scale is stored (quantizers only): fp32 (default) or
/// bf16, which saves 2 bytes per block.</param>
public sealed record ValueCodecOptions(ValueCodecKind Kind, int BlockSize, bool StochasticRounding,
    BlockScaleFormat ScaleFormat = BlockScaleFormat.Fp32)
{
    /// <summary>Default quantization block size (one fp32 scale per 64 values: +0.5 bit per value).</summary>
    public const int DefaultBlockSize = 64;

    /// <summary>Smallest accepted block size; a multiple of 16 keeps every vector inside one block.</summary>
    public const int MinBlockSize = 16;

    /// <summary>Largest accepted block size.</summary>
    public const int MaxBlockSize = 65536;

    /// <summary>True for the blockwise quantizers.</summary>
    public bool IsQuantizer => Kind is ValueCodecKind.Int8 or ValueCodecKind.Int4;

    /// <summary>Bytes of one block scale on the wire: 4 for fp32 scales, 2 for bf16.</summary>
    public int ScaleBytes => ScaleFormat == BlockScaleFormat.Bf16 ? 2 : 4;

    /// <summary>True when decode(encode(x)) == x bit for bit.</summary>
    public bool IsLossless => Kind == ValueCodecKind.Fp32;
}
