namespace Decentralized.Kernels;

/// <summary>What a decoder accepts from an untrusted blob. Every count and length in a blob is
/// checked against these before anything of that size is allocated or read.</summary>
public sealed record DecoderLimits
{
    /// <summary>Defaults sized for models up to about a billion parameters per blob.</summary>
    public static DecoderLimits Default { get; } = new();

    /// <summary>Most tensors in one blob (default 65,536). Raise it for models with more parameter
    /// tensors than that; the header of a blob is at most about this many times 560 bytes.</summary>
    public int MaxTensorCount { get; init; } = 1 << 16;

    /// <summary>Most elements in one tensor (default 2^30). Lower it to the largest tensor your model
    /// has to refuse oversized claims early.</summary>
    public long MaxElementsPerTensor { get; init; } = 1L << 30;

    /// <summary>Most elements summed over all tensors (default 2^30). <see cref="PseudoGradientDecoder.Decode"/>
    /// allocates this many floats at most once a header passes its checksum, before the data has
    /// arrived: set it to your model's parameter count (DecodeInto allocates nothing per tensor).</summary>
    public long MaxTotalElements { get; init; } = 1L << 30;

    /// <summary>Most bytes read from the stream for one blob (default 8 GiB). Lower it to a small
    /// multiple of the expected compressed size to bound what a peer can make you read.</summary>
    public long MaxBlobBytes { get; init; } = 8L << 30;

    /// <summary>Longest tensor name in UTF-8 bytes (default 512).</summary>
    public int MaxNameBytes { get; init; } = 512;

    /// <summary>Largest chunk a blob may declare (default 2^20, at most <see cref="WireFormat.MaxChunkElements"/>).
    /// The decoder's scratch buffers hold about 17 bytes per element of the largest chunk received,
    /// so this bounds what a hostile blob can make it allocate (about 17 MiB by default). Raise it
    /// only if your senders use larger <see cref="EncoderLimits.ChunkElements"/>.</summary>
    public int MaxChunkElements { get; init; } = 1 << 20;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for non-positive limits.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTensorCount, 1, nameof(MaxTensorCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxElementsPerTensor, 0, nameof(MaxElementsPerTensor));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTotalElements, 0, nameof(MaxTotalElements));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBlobBytes, 1, nameof(MaxBlobBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNameBytes, 1, nameof(MaxNameBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxChunkElements, 1, nameof(MaxChunkElements));
    }
}
