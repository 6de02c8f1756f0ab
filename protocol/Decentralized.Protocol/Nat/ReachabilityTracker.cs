using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Nat;

/// <summary>
/// Turns AutoNAT answers into a reachability verdict. The spec asks for more than 3 agreeing peers; swarms here are
/// often 2-10 peers, so the latest answer of each peer is kept and the verdict is the majority of the most recent
/// <see cref="Window"/> distinct peers (one peer saying "dialed you" beats none). Refusals (rate limits, bad requests)
/// carry no information and are not counted. Pure state: the host feeds it; tests drive it directly.
/// </summary>
public sealed class ReachabilityTracker
{
    /// <summary>Distinct peers whose latest answer counts.</summary>
    public const int Window = 5;

    private readonly object _lock = new();
    private readonly List<(PeerId Peer, bool Reached)> _answers = [];

    /// <summary>The current verdict.</summary>
    public Reachability Current
    {
        get
        {
            lock (_lock)
            {
                if (_answers.Count == 0)
                {
                    return Reachability.Unknown;
                }
                var reached = _answers.Count(a => a.Reached);
                // Ties go to public: a successful dial-back is hard evidence, a failed one may be a busy or odd server.
                return reached * 2 >= _answers.Count ? Reachability.Public : Reachability.Private;
            }
        }
    }

    /// <summary>Answers counted so far (at most <see cref="Window"/>).</summary>
    public int Answers
    {
        get { lock (_lock) { return _answers.Count; } }
    }

    /// <summary>Records one peer's answer; returns true if the verdict changed.</summary>
    public bool Record(PeerId server, AutoNatStatus status)
    {
        if (status is not (AutoNatStatus.Ok or AutoNatStatus.DialError))
        {
            return false;
        }
        var before = Current;
        lock (_lock)
        {
            _answers.RemoveAll(a => a.Peer == server);
            _answers.Add((server, status == AutoNatStatus.Ok));
            if (_answers.Count > Window)
            {
                _answers.RemoveAt(0);
            }
        }
        return Current != before;
    }
}
