using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>What <see cref="RoundEngine.Begin"/> asks the caller to send: one blob, the same to every target.</summary>
public sealed record Outgoing(long Round, Payload Payload, byte[] Blob, IReadOnlyList<string> Targets);

/// <summary>What became of an update handed to <see cref="RoundEngine.OnUpdate"/>.</summary>
public enum UpdateVerdict
{
    /// <summary>Decoded and kept for its round.</summary>
    Accepted,
    /// <summary>For a round this member already closed, or far ahead: not an attack, just not usable.</summary>
    Ignored,
    /// <summary>Malformed, mis-shaped, the wrong payload, or over a limit: dropped and counted.</summary>
    Refused,
}

/// <summary>The answer to an update: the verdict, why, and whether the sender just came back into our pairing.</summary>
public sealed record UpdateAnswer(UpdateVerdict Verdict, string Reason, bool Returned = false);

/// <summary>Where the awaited exchanges stand after a tick.</summary>
/// <param name="Ready">Every exchange <see cref="RoundEngine.Apply"/> will finish has closed.</param>
/// <param name="Wake">How long until the next deadline (null when ready): tick again then, or on an arrival.</param>
/// <param name="Suspended">Partners this tick's deadlines suspended (they missed <see cref="PartnerDeadlines.MissesToSuspend"/> rounds in a row).</param>
/// <param name="Awaited">Partners the still-open exchanges wait for ("why am I waiting?").</param>
public sealed record TickResult(bool Ready, TimeSpan? Wake, IReadOnlyList<string> Suspended, IReadOnlyList<string> Awaited);

/// <summary>One finished exchange, for logs and statistics.</summary>
/// <param name="Scores">With verification and a scorer: each scored partner's score s (relative loss drop on the held-out batch).</param>
/// <param name="Excluded">Partners this exchange excluded (negative scores in a row).</param>
/// <param name="Readmitted">Excluded partners this exchange readmitted (they scored positive).</param>
public sealed record RoundOutcome(long Round, IReadOnlyList<string> Partners, IReadOnlyList<string> Used,
    IReadOnlyList<(string Peer, string Reason)> Rejected, double WaitedSeconds, string Closed, bool Consolidated,
    IReadOnlyList<(string Peer, double Score)>? Scores = null, IReadOnlyList<string>? Excluded = null,
    IReadOnlyList<string>? Readmitted = null);

/// <summary>What <see cref="RoundEngine.Apply"/> did: the fast weights to continue from (the caller's to dispose), each finished exchange, and the round it skipped from when behind the swarm.</summary>
public sealed record ApplyResult(Tensor Fast, IReadOnlyList<RoundOutcome> Outcomes, long? SkippedFrom);
