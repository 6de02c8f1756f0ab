using Decentralized.Node.Rounds;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>Picks the wire codec for a chain name (any chain the kernels parse, e.g. fp32, q8, q4+ef, topk:0.01+ef+q8).</summary>
public static class UpdateCodecs
{
    public static IUpdateCodec Create(string spec, FlatParameters layout) => new ChainUpdateCodec(spec, layout);
}
