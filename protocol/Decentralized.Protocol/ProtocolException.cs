namespace Decentralized.Protocol;

/// <summary>
/// A peer's input or behaviour broke the protocol. Derives from <see cref="IOException"/> so code that already
/// handles network failures handles these too; <see cref="Code"/> says which rule was broken.
/// </summary>
public sealed class ProtocolException : IOException
{
    /// <summary>Creates the exception with a code and a human-readable reason.</summary>
    public ProtocolException(ProtocolErrorCode code, string message, Exception? inner = null)
        : base($"{code}: {message}", inner)
    {
        Code = code;
    }

    /// <summary>Which protocol rule was broken.</summary>
    public ProtocolErrorCode Code { get; }
}
