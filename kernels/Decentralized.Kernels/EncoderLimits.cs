namespace Decentralized.Kernels;

/// <summary>Options of <see cref="PseudoGradientEncoder"/>. The defaults suit pseudo-gradients of any
/// size; see each member for when to change it.</summary>
public sealed record EncoderLimits
{
    /// <summary>Defaults.</summary>
    public static EncoderLimits Default { get; } = new();

    /// <summary>Elements per chunk (default 65,536: 256 KiB of fp32, so every scratch buffer stays in
    /// L2). It is rounded down to a multiple of the quantizer's block size (up to one block when smaller). Raise it only for very
    /// large tensors where per-chunk overhead (17 bytes and one stream write) shows; never above the
    /// receivers' <see cref="DecoderLimits.MaxChunkElements"/> (default 2^20) nor
    /// <see cref="WireFormat.MaxChunkElements"/>.</summary>
    public int ChunkElements { get; init; } = 1 << 16;

    /// <summary>Largest number of tensors in one blob (default 65,536). Keep it at or below the
    /// receivers' <see cref="DecoderLimits.MaxTensorCount"/>.</summary>
    public int MaxTensorCount { get; init; } = 1 << 16;

    /// <summary>Longest tensor name in UTF-8 bytes (default 512, which the format allows up to
    /// <see cref="WireFormat.MaxNameBytes"/>).</summary>
    public int MaxNameBytes { get; init; } = 512;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when a value is outside what the
    /// format can carry.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkElements, 16, nameof(ChunkElements));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ChunkElements, WireFormat.MaxChunkElements, nameof(ChunkElements));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTensorCount, 1, nameof(MaxTensorCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNameBytes, 1, nameof(MaxNameBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxNameBytes, WireFormat.MaxNameBytes, nameof(MaxNameBytes));
    }
}
