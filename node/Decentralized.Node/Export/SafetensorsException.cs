namespace Decentralized.Node.Export;

/// <summary>
/// A model file from outside was refused; <see cref="Code"/> says why and the message names the field and values.
/// It is an <see cref="IOException"/> (a file that cannot be used), so the CLI reports it as one line and exit code 2.
/// </summary>
public sealed class SafetensorsException(SafetensorsError code, string message) : IOException(message)
{
    public SafetensorsError Code { get; } = code;
}
