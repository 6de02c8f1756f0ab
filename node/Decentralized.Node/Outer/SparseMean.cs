namespace Decentralized.Node.Outer;

/// <summary>What SparseLoCo divides each coordinate's sum of received values by.</summary>
public enum SparseMean
{
    /// <summary>The number of members that sent the coordinate (the reference's <c>scatter_reduce(mean)</c>; 0 when none).</summary>
    Senders,
    /// <summary>The number of group members, sent or not (the paper's printed 1/R).</summary>
    Replicas,
}

/// <summary>Command-line names of <see cref="SparseMean"/>.</summary>
public static class SparseMeanNames
{
    public static SparseMean Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "senders" => SparseMean.Senders,
        "replicas" => SparseMean.Replicas,
        _ => throw new ArgumentException($"unknown sparse mean '{text}': use senders or replicas"),
    };
}
