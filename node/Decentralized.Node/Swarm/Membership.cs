using System.Collections.Concurrent;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Swarm;

/// <summary>
/// Membership without a master. Each peer keeps a table of the peers it has heard of; every heartbeat it
/// exchanges (round, step, a sample of its table) with each connected peer, learns new peers from the
/// answers and dials them. A peer silent for <see cref="SwarmOptions.PeerTimeout"/> leaves the live set
/// (and the pairing); after three timeouts it is forgotten. Runs on any <see cref="IPeerNetwork"/> and
/// <see cref="TimeProvider"/>, so the simulator drives the same code.
/// </summary>
public sealed class Membership
{
    private readonly IPeerNetwork _network;
    private readonly TimeProvider _time;
    private readonly SwarmOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<PeerId, MemberInfo> _members = new();
    private readonly ConcurrentDictionary<PeerId, Multiaddr[]> _addresses = new();

    public Membership(IPeerNetwork network, TimeProvider time, SwarmOptions options, ILogger log)
    {
        _network = network;
        _time = time;
        _options = options;
        _log = log;
        network.PeerConnected += peer => Touch(peer, round: null, step: null);
        network.SetStreamHandler(SwarmProtocols.Heartbeat, ServeHeartbeatAsync);
    }

    /// <summary>Our own progress, reported in heartbeats.</summary>
    public Func<(long Round, long Step)> LocalProgress { get; set; } = () => (0, 0);

    /// <summary>A member's last known state.</summary>
    public sealed record MemberInfo(PeerId Peer, DateTimeOffset LastSeen, long Round, long Step);

    /// <summary>Peers heard from within the failure timeout, sorted by id (the order pairing uses), without us.</summary>
    public IReadOnlyList<PeerId> LivePeers()
    {
        var now = _time.GetUtcNow();
        return _members.Values.Where(m => now - m.LastSeen <= _options.PeerTimeout && _network.ConnectedPeers.Contains(m.Peer))
            .Select(m => m.Peer).OrderBy(p => p.ToString(), StringComparer.Ordinal).ToArray();
    }

    public IReadOnlyCollection<MemberInfo> Members => _members.Values.ToArray();

    public MemberInfo? Get(PeerId peer) => _members.TryGetValue(peer, out var m) ? m : null;

    /// <summary>One heartbeat to every connected peer, then expiry of silent ones. Called every <see cref="SwarmOptions.HeartbeatInterval"/>.</summary>
    public async Task BeatAsync(CancellationToken ct)
    {
        var peers = _network.ConnectedPeers.ToArray();
        await Task.WhenAll(peers.Select(p => BeatOneAsync(p, ct)));
        Expire();
    }

    private async Task BeatOneAsync(PeerId peer, CancellationToken ct)
    {
        try
        {
            using var timeout = new Deadline(_time, _options.PeerTimeout, ct);
            await using var stream = await _network.OpenStreamAsync(peer, SwarmProtocols.Heartbeat, timeout.Token);
            await MessageIo.WriteAsync(stream, LocalHeartbeat(), timeout.Token);
            var answer = await MessageIo.ReadAsync<HeartbeatMessage>(stream, _options.ControlMessageBytesMax, timeout.Token);
            Absorb(peer, answer);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _log.LogDebug("heartbeat to {Peer} failed: {Reason}", peer, e.Message);
        }
    }

    private async Task ServeHeartbeatAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        // A heartbeat is one message each way: a peer silent for the peer timeout gives the stream back.
        using var deadline = new Deadline(_time, _options.PeerTimeout, ct);
        var message = await MessageIo.ReadAsync<HeartbeatMessage>(stream, _options.ControlMessageBytesMax, deadline.Token);
        await MessageIo.WriteAsync(stream, LocalHeartbeat(), deadline.Token);
        Absorb(peer, message);
    }

    private HeartbeatMessage LocalHeartbeat()
    {
        var (round, step) = LocalProgress();
        // Gossip a bounded sample: ourselves plus the live peers we know, with the addresses they listen on.
        var records = LivePeers().Take(32).Select(p => new PeerRecord(p.ToByteArray(), AddressesOf(p)))
            .Prepend(new PeerRecord(_network.LocalPeer.ToByteArray(), _network.ListenAddresses.Select(a => a.ToBytes()).ToArray()))
            .ToArray();
        return new HeartbeatMessage(round, step, records);
    }

    private byte[][] AddressesOf(PeerId peer) =>
        _addresses.TryGetValue(peer, out var known) ? known.Select(a => a.ToBytes()).ToArray() : [];

    private void Absorb(PeerId from, HeartbeatMessage message)
    {
        Touch(from, message.Round, message.Step);
        foreach (var record in (message.Peers ?? []).Take(64))
        {
            PeerId peer;
            try { peer = PeerId.FromMultihash(record.PeerId); }
            catch (Exception) { continue; }   // a malformed record is skipped, the rest of the gossip still counts
            if (peer == _network.LocalPeer) continue;
            var addresses = (record.Addresses ?? []).Take(4).Select(TryAddress).OfType<Multiaddr>().ToArray();
            if (addresses.Length == 0) continue;
            // What a peer says about itself is authoritative; second-hand addresses only fill gaps.
            if (peer == from || !_addresses.ContainsKey(peer)) _addresses[peer] = addresses;
            if (_members.ContainsKey(peer) || _members.Count >= _options.PeersMax) continue;
            _network.AddAddresses(peer, addresses);
            _log.LogInformation("learned peer {Peer} from {From}", peer, from);
            _ = ConnectAsync(peer, addresses);
        }
    }

    private async Task ConnectAsync(PeerId peer, Multiaddr[] addresses)
    {
        foreach (var address in addresses)
        {
            try
            {
                using var timeout = new Deadline(_time, _options.PeerTimeout, CancellationToken.None);
                await _network.DialAsync(address.GetPeerId() is null ? address.WithPeerId(peer) : address, timeout.Token);
                return;
            }
            catch (Exception e) { _log.LogDebug("dial {Peer} at {Address} failed: {Reason}", peer, address, e.Message); }
        }
    }

    private static Multiaddr? TryAddress(byte[] bytes)
    {
        try { return Multiaddr.FromBytes(bytes); }
        catch (Exception) { return null; }
    }

    /// <summary>Marks a peer alive now (and records its progress when known).</summary>
    public void Touch(PeerId peer, long? round, long? step)
    {
        var now = _time.GetUtcNow();
        _members.AddOrUpdate(peer, p => new MemberInfo(p, now, round ?? 0, step ?? 0),
            (_, old) => old with { LastSeen = now, Round = round ?? old.Round, Step = step ?? old.Step });
    }

    private void Expire()
    {
        var now = _time.GetUtcNow();
        foreach (var member in _members.Values)
        {
            if (now - member.LastSeen <= 3 * _options.PeerTimeout || !_members.TryRemove(member.Peer, out _)) continue;
            _addresses.TryRemove(member.Peer, out _);
            _log.LogInformation("forgot peer {Peer}: silent for {Seconds:F0} s", member.Peer, (now - member.LastSeen).TotalSeconds);
        }
    }
}
