namespace Decentralized.Kernels;

/// <summary>A typed failure of the pseudo-gradient codecs: a bad chain string, refused input, or a
/// blob that is truncated, corrupt, oversized or does not match the caller's expectations. Data from
/// the network only ever fails with this type (stream I/O errors from the transport pass through
/// unchanged).</summary>
public sealed class CodecException : Exception
{
    /// <summary>Creates the exception with its code and a human-readable message.</summary>
    public CodecException(CodecErrorCode code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
    }

    /// <summary>The machine-readable reason.</summary>
    public CodecErrorCode Code { get; }
}
