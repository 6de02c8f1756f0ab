namespace Decentralized.Node.Swarm;

/// <summary>How a joiner got its state: the round, the chunks each donor served, and how long the download took.</summary>
public sealed record StateSyncReport(long Round, IReadOnlyDictionary<string, int> ChunksByDonor, IReadOnlyList<string> FailedDonors, double Seconds)
{
    /// <summary>Donors that served at least one chunk.</summary>
    public int Donors => ChunksByDonor.Count(d => d.Value > 0);
}
