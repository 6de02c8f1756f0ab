namespace Decentralized.Node.Pipeline;

/// <summary>A peer sent pipeline input we refuse; only that request is dropped, training goes on.</summary>
public sealed class PipelineProtocolException(PipelineErrorCode code, string message) : Exception($"{code}: {message}")
{
    public PipelineErrorCode Code { get; } = code;
}
