using System.Collections.Concurrent;
using System.Net;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Dcutr;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// DCUtR (libp2p/specs relay/DCUtR.md): upgrading a relayed connection to a direct one by TCP simultaneous open.
/// The inbound side of the relayed connection (B) drives: CONNECT with its observed addresses, measures the round
/// trip until A's CONNECT comes back, sends SYNC, waits half that round trip and dials; A dials as soon as SYNC
/// arrives. Both dial from their listen port (so a port-preserving NAT shows the port the other side dials), A
/// acts as the client of the new connection, B as the server. B tries up to <see cref="NatOptions.HolePunchAttempts"/>
/// times. Once a direct connection exists, new streams prefer it (see GetConnection).
/// </summary>
public sealed partial class Libp2pHost
{
    private const int HolePunchAddressesMax = 4;
    private static readonly TimeSpan HolePunchDialTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<long, byte> _punching = new();

    // A's side of a punch in progress: B's endpoints, whose SYN may reach our listener before our own SYN leaves.
    // Such an inbound socket is the punched connection, and DCUtR makes A its client (see HandleInboundAsync).
    private readonly ConcurrentDictionary<IPEndPoint, PeerId> _punchedFrom = new();
    private int _holePunchSuccesses;

    /// <summary>Direct connections obtained by hole punching so far.</summary>
    public int HolePunchSuccesses => Volatile.Read(ref _holePunchSuccesses);

    private void RegisterHolePunch()
    {
        if (_options.Nat.HolePunching)
        {
            SetStreamHandler(HolePunchMessage.ProtocolId, ServeHolePunchAsync);
        }
    }

    /// <summary>Called once a relayed connection is identified: B starts the upgrade if A speaks DCUtR.</summary>
    private void MaybeStartHolePunch(PeerConnection relayed)
    {
        if (!_options.Nat.HolePunching || !relayed.IsRelayed || relayed.IsInitiator
            || relayed.Identify?.Protocols.Contains(HolePunchMessage.ProtocolId) != true
            || GetDirectConnection(relayed.RemotePeer) is not null || !_punching.TryAdd(relayed.Id, 0))
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await HolePunchAsync(relayed).ConfigureAwait(false);
            }
            finally
            {
                _punching.TryRemove(relayed.Id, out _);
            }
        });
    }

    /// <summary>B's side: up to N attempts of CONNECT / CONNECT / SYNC / simultaneous dial.</summary>
    private async Task HolePunchAsync(PeerConnection relayed)
    {
        for (var attempt = 1; attempt <= _options.Nat.HolePunchAttempts && !relayed.Closed.IsCancellationRequested; attempt++)
        {
            if (GetDirectConnection(relayed.RemotePeer) is not null)
            {
                return;
            }
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(relayed.Closed, _lifetime.Token);
                deadline.CancelAfter(_options.StreamNegotiationTimeout + HolePunchDialTimeout);
                var stream = relayed.Session.OpenStream();
                await using (stream.ConfigureAwait(false))
                {
                    await Multistream.MultistreamSelect.SelectAsync(stream, [HolePunchMessage.ProtocolId], deadline.Token, _options.MaxMultistreamMessageBytes)
                        .ConfigureAwait(false);
                    var started = _time.GetTimestamp();
                    await SendHolePunchAsync(stream, HolePunchType.Connect, deadline.Token).ConfigureAwait(false);
                    var theirs = await ReadHolePunchAsync(stream, HolePunchType.Connect, deadline.Token).ConfigureAwait(false);
                    var rtt = _time.GetElapsedTime(started);
                    await SendHolePunchAsync(stream, HolePunchType.Sync, deadline.Token).ConfigureAwait(false);
                    await Task.Delay(rtt / 2, _time, deadline.Token).ConfigureAwait(false);
                    if (await DialSimultaneousAsync(relayed, DialTargets(theirs.ObservedAddresses), asClient: false).ConfigureAwait(false))
                    {
                        _log.LogInformation("Hole punch to {Peer} succeeded (attempt {Attempt}, relay RTT {Rtt} ms)", relayed.RemotePeer, attempt, (int)rtt.TotalMilliseconds);
                        return;
                    }

                    _log.LogInformation("Hole punch to {Peer} attempt {Attempt} failed: no direct connection came up", relayed.RemotePeer, attempt);
                }
            }
            catch (Exception e) when (!_lifetime.IsCancellationRequested)
            {
                _log.LogInformation("Hole punch to {Peer} attempt {Attempt} failed: {Reason}", relayed.RemotePeer, attempt, e.Message);
            }
        }
        if (GetDirectConnection(relayed.RemotePeer) is null)
        {
            _log.LogInformation("Hole punching to {Peer} failed {Attempts} times; staying on the relay", relayed.RemotePeer, _options.Nat.HolePunchAttempts);
        }
    }

    /// <summary>A's side: answer CONNECT with ours, dial at once when SYNC arrives. Malformed messages end only this stream.</summary>
    private async Task ServeHolePunchAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var relayed = FindConnection(peer, stream);
        if (relayed is null || !relayed.IsRelayed)
        {
            return;   // DCUtR only upgrades relayed connections
        }
        try
        {
            // A peer that sends CONNECT and never SYNC must not hold the stream (and our memory) forever.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_options.StreamNegotiationTimeout);
            var theirs = await ReadHolePunchAsync(stream, HolePunchType.Connect, deadline.Token).ConfigureAwait(false);
            var targets = DialTargets(theirs.ObservedAddresses);
            // Expect B's SYN from now on: B dials only after our CONNECT reaches it, so no SYN can beat this.
            foreach (var target in targets)
            {
                _punchedFrom[target] = peer;
            }
            try
            {
                await SendHolePunchAsync(stream, HolePunchType.Connect, deadline.Token).ConfigureAwait(false);
                await ReadHolePunchAsync(stream, HolePunchType.Sync, deadline.Token).ConfigureAwait(false);
                if (await DialSimultaneousAsync(relayed, targets, asClient: true).ConfigureAwait(false))
                {
                    _log.LogInformation("Hole punch from {Peer} succeeded", peer);
                }
            }
            finally
            {
                foreach (var target in targets)
                {
                    _punchedFrom.TryRemove(new KeyValuePair<IPEndPoint, PeerId>(target, peer));
                }
            }
        }
        catch (ProtocolException e)
        {
            _log.LogWarning("DCUtR stream from {Peer} closed ({Code}): {Reason}", peer, e.Code, e.Message);
            throw;
        }
    }

    /// <summary>The direct TCP endpoints among the addresses a peer sent in its CONNECT (bounded).</summary>
    private static IPEndPoint[] DialTargets(IReadOnlyList<Multiaddr> addresses) =>
        [.. addresses.Where(a => !AddressScope.IsCircuit(a) && AddressScope.TcpPortOf(a) is > 0 && AddressScope.IpOf(a) is not null)
            .Select(a => new IPEndPoint(AddressScope.IpOf(a)!, AddressScope.TcpPortOf(a)!.Value)).Distinct().Take(HolePunchAddressesMax)];

    /// <summary>The peer whose punch expects an inbound socket from this endpoint, if any (A acts as its client).</summary>
    private PeerId? PunchingPeerAt(IPEndPoint remote) => _punchedFrom.TryGetValue(remote, out var peer) ? peer : null;

    /// <summary>Dials each of the peer's endpoints (from our listen port) at the same moment; true once one connects.</summary>
    private async Task<bool> DialSimultaneousAsync(PeerConnection relayed, IPEndPoint[] targets, bool asClient)
    {
        if (targets.Length == 0)
        {
            _log.LogInformation("Hole punch with {Peer}: it sent no dialable address", relayed.RemotePeer);
            return false;
        }
        using var done = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        done.CancelAfter(HolePunchDialTimeout * 2);   // connect and handshake; a stuck handshake must not hold the retry
        var attempts = targets.Select(async endPoint =>
        {
            var socket = await ConnectAsync(endPoint, ReusablePort(endPoint.AddressFamily), HolePunchDialTimeout, done.Token).ConfigureAwait(false);
            var connection = await UpgradeAsync(socket, TcpAddress.FromEndPoint(endPoint), asClient, relayed.RemotePeer, done.Token).ConfigureAwait(false);
            return Register(connection);
        }).ToList();
        var all = Task.WhenAll(attempts);
        while (!all.IsCompleted)
        {
            // The other side's SYN may have reached our listener instead (then our own dial fails or hangs): a direct
            // connection registered by any path ends the attempt, and the spec says to cancel the rest.
            if (GetDirectConnection(relayed.RemotePeer) is not null || attempts.Any(a => a.IsCompletedSuccessfully && !a.Result.IsRelayed))
            {
                break;
            }
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromMilliseconds(50), _time)).ConfigureAwait(false);
        }
        var direct = GetDirectConnection(relayed.RemotePeer) is not null;
        done.Cancel();
        foreach (var failed in attempts.Where(a => a.IsFaulted))
        {
            _log.LogDebug("Hole punch dial to {Peer} failed: {Reason}", relayed.RemotePeer, failed.Exception?.GetBaseException().Message);
        }
        if (direct)
        {
            Interlocked.Increment(ref _holePunchSuccesses);
        }
        return direct;
    }

    /// <summary>Our addresses as others see them (what the other side must dial), public ones first.</summary>
    private IReadOnlyList<Multiaddr> HolePunchAddresses() =>
        [.. ObservedAddresses.Concat(ListenAddresses.Where(a => !AddressScope.IsCircuit(a)).Select(a => a.WithoutPeerId()))
            .Distinct().OrderBy(a => AddressScope.IpOf(a) is { } ip && AddressScope.IsPublic(ip) ? 0 : 1).Take(HolePunchAddressesMax)];

    private async Task SendHolePunchAsync(Stream stream, HolePunchType type, CancellationToken ct)
    {
        var message = new HolePunchMessage(type, type == HolePunchType.Connect ? HolePunchAddresses() : []);
        await stream.WriteLengthPrefixedAsync(message.Encode(), ct).ConfigureAwait(false);
    }

    private static async Task<HolePunchMessage> ReadHolePunchAsync(Stream stream, HolePunchType expected, CancellationToken ct)
    {
        var bytes = await stream.ReadLengthPrefixedAsync(HolePunchMessage.MaxMessageBytes, ct).ConfigureAwait(false)
            ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, $"stream ended before {expected}");
        var message = HolePunchMessage.Decode(bytes);
        return message.Type == expected ? message
            : throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"expected {expected}, got {message.Type}");
    }
}
