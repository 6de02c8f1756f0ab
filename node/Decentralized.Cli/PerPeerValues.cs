using System.Globalization;

namespace Decentralized.Cli;

/// <summary>
/// A <c>swarm local</c> option given for every peer (<c>VALUE</c>) and/or for one (<c>peerI=VALUE</c>, repeatable, over
/// the one for all): <c>--link</c>, <c>--misbehave</c>. One parser, so both read and refuse the same way.
/// </summary>
public static class PerPeerValues
{
    /// <summary>One value (or default) per peer, or a one-line refusal naming the option and the value.</summary>
    /// <param name="what">The value's noun in refusals ("a link").</param>
    /// <param name="forAllAllowed">False where a value for every peer makes no sense (every peer lying).</param>
    public static T?[] Parse<T>(string option, string what, IReadOnlyList<string> values, int peers, Func<string, T> parse, bool forAllAllowed = true) where T : class
    {
        var result = new T?[peers];
        var forAll = values.Where(v => !IsPerPeer(v)).ToArray();
        if (forAll.Length > 0 && !forAllAllowed)
            throw new ArgumentException($"--{option} {forAll[0]}: name the peer, as peerI={forAll[0]}");
        if (forAll.Length > 1)
            throw new ArgumentException($"--{option} {forAll[1]}: {what} for every peer is given already ({forAll[0]}); give one, and peerI=VALUE for the exceptions");
        if (forAll.Length == 1) Array.Fill(result, parse(forAll[0]));
        var given = new HashSet<int>();
        foreach (var value in values.Where(IsPerPeer))
        {
            int eq = value.IndexOf('=');
            if (!int.TryParse(value.AsSpan(4, eq - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= peers)
                throw new ArgumentException($"--{option} {value}: {value[..eq]} is not one of peer0..peer{peers - 1}");
            if (!given.Add(i)) throw new ArgumentException($"--{option} {value}: peer{i} has {what} already");
            result[i] = parse(value[(eq + 1)..]);
        }
        return result;
    }

    // "peer2=10mbit" names a peer; "10mbit,latency=5ms" has its '=' after a comma.
    private static bool IsPerPeer(string value) =>
        value.StartsWith("peer", StringComparison.Ordinal) && value.IndexOf('=') is > 4 and var eq && !value[..eq].Contains(',');
}
