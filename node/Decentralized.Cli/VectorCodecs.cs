using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>Chooses the codec for a chain name.</summary>
public static class VectorCodecs
{
    public static IVectorCodec Create(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "fp32" => new Fp32VectorCodec(),
        _ => throw new ArgumentException($"unknown compression chain '{spec}'"),
    };
}
