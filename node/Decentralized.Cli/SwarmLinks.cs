using Decentralized.Protocol.Tcp;

namespace Decentralized.Cli;

/// <summary>
/// <c>swarm local --link</c>: the emulated access link of each local peer. <c>--link SHAPE</c> gives every peer that
/// link; <c>--link peerI=SHAPE</c> (repeatable) gives peer I its own, over the one for all. SHAPE is
/// <see cref="LinkShape.Parse"/>'s <c>RATE[,latency=MS][,loss=P]</c>.
/// </summary>
public static class SwarmLinks
{
    /// <summary>One shape (or null: unshaped) per peer, or a one-line refusal naming the value.</summary>
    public static IReadOnlyList<LinkShape?> Parse(IReadOnlyList<string> values, int peers) =>
        PerPeerValues.Parse("link", "a link", values, peers, LinkShape.Parse);
}
