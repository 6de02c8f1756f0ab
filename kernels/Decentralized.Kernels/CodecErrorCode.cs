namespace Decentralized.Kernels;

/// <summary>What went wrong in a <see cref="CodecException"/>; stable, so callers can branch on it
/// (for example, penalise a peer for <see cref="ChecksumMismatch"/> but not for a local misuse).</summary>
public enum CodecErrorCode
{
    /// <summary>A codec chain string is empty, names an unknown stage or has a bad parameter.</summary>
    InvalidChain = 1,
    /// <summary>Input to the encoder holds NaN, an infinity, or a value at or above the encodable
    /// magnitude (<see cref="ValueRange.MaxMagnitude"/>).</summary>
    NonFiniteInput,
    /// <summary>The blob ended before the format said it would.</summary>
    Truncated,
    /// <summary>The blob does not start with the format's magic bytes.</summary>
    BadMagic,
    /// <summary>The blob's format version is not one this decoder reads.</summary>
    UnsupportedVersion,
    /// <summary>A header, chunk or trailer checksum does not match its bytes.</summary>
    ChecksumMismatch,
    /// <summary>A count or length in the blob is larger than the caller's <see cref="DecoderLimits"/>
    /// or than the format allows.</summary>
    LimitExceeded,
    /// <summary>Fields of the blob contradict each other or the format (reserved bits set, index out
    /// of range, wrong payload length, unsorted sparse indices...).</summary>
    Malformed,
    /// <summary>The payload decodes to a NaN or an infinity, or carries an out-of-range scale.</summary>
    NonFiniteDecoded,
    /// <summary>The blob's tensors do not match the targets the caller supplied (names, shapes,
    /// buffer lengths).</summary>
    TargetMismatch,
}
