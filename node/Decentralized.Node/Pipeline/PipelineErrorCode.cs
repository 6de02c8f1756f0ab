namespace Decentralized.Node.Pipeline;

/// <summary>Why a pipeline message was refused.</summary>
public enum PipelineErrorCode
{
    /// <summary>Missing, truncated, oversized or undecodable message.</summary>
    Malformed,
    /// <summary>Dimensions or lengths that do not match the swarm's model and microbatch shape.</summary>
    BadShape,
    /// <summary>NaN, infinity or an out-of-range token id.</summary>
    NonFinite,
    /// <summary>An unknown activation codec.</summary>
    BadCodec,
    /// <summary>A route that is not one this pipeline can produce, or a hop meant for another stage.</summary>
    BadRoute,
    /// <summary>The peer cannot serve the request now (changing stage, shutting down).</summary>
    Unavailable,
}
