using System.Globalization;
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
    public static IReadOnlyList<LinkShape?> Parse(IReadOnlyList<string> values, int peers)
    {
        var links = new LinkShape?[peers];
        var forAll = values.Where(v => !IsPerPeer(v)).ToArray();
        if (forAll.Length > 1)
            throw new ArgumentException($"--link {forAll[1]}: a link for every peer is given already ({forAll[0]}); give one, and peerI=SHAPE for the exceptions");
        if (forAll.Length == 1) Array.Fill(links, LinkShape.Parse(forAll[0]));
        var given = new HashSet<int>();
        foreach (var value in values.Where(IsPerPeer))
        {
            int eq = value.IndexOf('=');
            if (!int.TryParse(value.AsSpan(4, eq - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= peers)
                throw new ArgumentException($"--link {value}: {value[..eq]} is not one of peer0..peer{peers - 1}");
            if (!given.Add(i)) throw new ArgumentException($"--link {value}: peer{i} has a link already");
            links[i] = LinkShape.Parse(value[(eq + 1)..]);
        }
        return links;
    }

    // "peer2=10mbit" names a peer; "10mbit,latency=5ms" has its '=' after a comma.
    private static bool IsPerPeer(string value) =>
        value.StartsWith("peer", StringComparison.Ordinal) && value.IndexOf('=') is > 4 and var eq && !value[..eq].Contains(',');
}
