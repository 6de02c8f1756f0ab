using System.Collections.Concurrent;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// Who serves which stage, as learned from hellos. A peer silent for the peer timeout, or one a hop just failed on
/// (suspect until it says hello again), is not live; one silent for five timeouts is forgotten.
/// </summary>
public sealed class PipelineDirectory(TimeProvider time, PipelineOptions options)
{
    private readonly ConcurrentDictionary<PeerId, PipelineMember> _members = new();
    private readonly ConcurrentDictionary<PeerId, Multiaddr[]> _addresses = new();
    private readonly ConcurrentDictionary<int, DateTimeOffset> _stageLastSeen = new();

    /// <summary>Records a hello from <paramref name="peer"/>.</summary>
    public void Absorb(PeerId peer, PipelineHello hello)
    {
        int stage = hello.Stage >= 0 && hello.Stage < options.StageCount ? hello.Stage : -1;
        double omega = double.IsFinite(hello.GradNormWeight) && hello.GradNormWeight > 0 ? hello.GradNormWeight : CheckFreeRecovery.NormEpsilon;
        if (_members.Count >= options.PeersMax && !_members.ContainsKey(peer)) return;
        var now = time.GetUtcNow();
        _members[peer] = new PipelineMember(peer, now, stage, Math.Max(0, hello.Steps), Math.Max(0, hello.Round), omega, Suspect: false);
        if (stage >= 0) _stageLastSeen[stage] = now;
    }

    /// <summary>
    /// True when some replica of <paramref name="stage"/> was heard from before but none within the peer timeout: the
    /// stage was lost (not merely unheard of yet while the swarm starts).
    /// </summary>
    public bool WasLost(int stage) =>
        _stageLastSeen.TryGetValue(stage, out var last) && time.GetUtcNow() - last > options.PeerTimeout;

    /// <summary>Notes that this peer itself serves <paramref name="stage"/> now.</summary>
    public void NoteOwnStage(int stage)
    {
        if (stage >= 0) _stageLastSeen[stage] = time.GetUtcNow();
    }

    /// <summary>A hop or request to <paramref name="peer"/> failed: route around it until it is heard from again.</summary>
    public void MarkSuspect(PeerId peer)
    {
        if (_members.TryGetValue(peer, out var m)) _members[peer] = m with { Suspect = true };
    }

    /// <summary>Remembers where a peer listens (bounded by the peer limit).</summary>
    public bool AddAddresses(PeerId peer, Multiaddr[] addresses)
    {
        if (_addresses.Count >= options.PeersMax && !_addresses.ContainsKey(peer)) return false;
        return _addresses.TryAdd(peer, addresses);
    }

    public Multiaddr[] AddressesOf(PeerId peer) => _addresses.TryGetValue(peer, out var a) ? a : [];

    /// <summary>Peers to greet: every peer with a known address or a recent hello, not yet forgotten.</summary>
    public IReadOnlyList<PeerId> Known() => _addresses.Keys.Union(_members.Keys).ToArray();

    /// <summary>Live members (not us), sorted by id.</summary>
    public IReadOnlyList<PipelineMember> Live()
    {
        var now = time.GetUtcNow();
        return _members.Values.Where(m => !m.Suspect && now - m.LastSeen <= options.PeerTimeout)
            .OrderBy(m => m.Peer.ToString(), StringComparer.Ordinal).ToArray();
    }

    /// <summary>Live replicas of <paramref name="stage"/> (not us), sorted by id.</summary>
    public IReadOnlyList<PipelineMember> LiveOf(int stage) => Live().Where(m => m.Stage == stage).ToArray();

    /// <summary>Forgets peers silent for five timeouts.</summary>
    public void Expire()
    {
        var now = time.GetUtcNow();
        foreach (var m in _members.Values)
        {
            if (now - m.LastSeen <= 5 * options.PeerTimeout) continue;
            _members.TryRemove(m.Peer, out _);
            _addresses.TryRemove(m.Peer, out _);
        }
    }
}
