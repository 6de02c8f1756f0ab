namespace Decentralized.Node.Rounds;

/// <summary>
/// What a member thinks of one partner's contributions: the mean of its scores over the rounds it was scored in,
/// its last score, negative scores in a row, and whether it is excluded (its updates scored, not applied).
/// </summary>
public sealed record PartnerStanding(string Peer, double MeanScore, double LastScore, int Scored, int NegativesInARow, bool Excluded);
