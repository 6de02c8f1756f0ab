using Decentralized.Node.Swarm;

namespace Decentralized.Cli;

/// <summary>Picks the wire codec for a chain name.</summary>
public static class UpdateCodecs
{
    public static IUpdateCodec Create(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "fp32" => new Fp32UpdateCodec(),
        _ => throw new ArgumentException($"unknown compression chain '{spec}'"),
    };
}
