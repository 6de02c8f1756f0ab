using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Nat;

/// <summary>
/// Rate limit for AutoNAT dial-backs: at most <paramref name="globalPerMinute"/> in any minute, and at most
/// <paramref name="perPeerPerMinute"/> per requesting peer (go-libp2p's defaults are 30 and 3). Dial-backs cost us a
/// TCP connect and a handshake each, so without this a peer could make us a connection flooder.
/// </summary>
public sealed class DialBackThrottle(TimeProvider time, int globalPerMinute, int perPeerPerMinute)
{
    private static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    private readonly object _lock = new();
    private readonly Queue<long> _global = new();
    private readonly Dictionary<PeerId, Queue<long>> _perPeer = new();

    /// <summary>Takes one dial-back slot for <paramref name="peer"/>; false if a limit is reached.</summary>
    public bool TryAcquire(PeerId peer)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            Expire(_global, now);
            if (!_perPeer.TryGetValue(peer, out var mine))
            {
                // The map is bounded by the global limit: a peer only gets an entry when it takes a slot.
                mine = new Queue<long>();
            }
            Expire(mine, now);
            if (_global.Count >= globalPerMinute || mine.Count >= perPeerPerMinute)
            {
                return false;
            }
            _global.Enqueue(now);
            mine.Enqueue(now);
            _perPeer[peer] = mine;
            foreach (var stale in _perPeer.Where(p => { Expire(p.Value, now); return p.Value.Count == 0; }).Select(p => p.Key).ToList())
            {
                _perPeer.Remove(stale);
            }
            return true;
        }
    }

    private void Expire(Queue<long> stamps, long now)
    {
        while (stamps.Count > 0 && time.GetElapsedTime(stamps.Peek(), now) >= Period)
        {
            stamps.Dequeue();
        }
    }
}
