namespace Decentralized.Node.Pipeline;

/// <summary>Protocol ids of the pipeline's streams (negotiated by multistream-select).</summary>
public static class PipelineProtocols
{
    public const string Hello = "/decentralized/pipeline/hello/1.0.0";
    public const string Hop = "/decentralized/pipeline/hop/1.0.0";
    public const string Weights = "/decentralized/pipeline/weights/1.0.0";
    public const string Outer = "/decentralized/pipeline/outer/2.0.0";
}
