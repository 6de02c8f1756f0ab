namespace Decentralized.Node.Training;

/// <summary>
/// The codec chain for weights sent as offsets from an anchor every replica holds (NoLoCo over a lossy chain, in
/// <c>train</c> and in the swarm): 8-bit codes with bf16 block scales and rANS measured as good as fp32 weights.
/// </summary>
public static class WeightsChain
{
    public const string Default = "q8:bf16+ans";
}
