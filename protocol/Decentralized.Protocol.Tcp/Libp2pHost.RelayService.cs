using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Relay;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// Circuit relay v2, relay side (<c>/libp2p/circuit/relay/0.2.0/hop</c>): reservations with a lifetime and a cap, and
/// relayed connections capped in number, bytes and duration. Only peers that passed our connection gate can talk to
/// us at all, so the relay only ever connects swarm members to swarm members; it never dials anybody (no "active
/// relay"): the target must hold a reservation and be connected.
/// </summary>
public sealed partial class Libp2pHost
{
    private readonly object _relayLock = new();
    private readonly Dictionary<PeerId, DateTimeOffset> _reservations = new();
    private readonly Dictionary<PeerId, int> _circuitsPerPeer = new();
    private int _circuits;
    private bool _servingRelay;

    /// <summary>True while this host accepts relay reservations and circuits.</summary>
    public bool IsRelayServing => Volatile.Read(ref _servingRelay);

    /// <summary>Relayed connections passing through us now.</summary>
    public int ActiveCircuits => Volatile.Read(ref _circuits);

    /// <summary>Reservations currently held on us.</summary>
    public int ActiveReservations
    {
        get { lock (_relayLock) { return _reservations.Count(r => r.Value > _time.GetUtcNow()); } }
    }

    /// <summary>Starts or stops the hop service to match the mode and the reachability (Auto: off when private).</summary>
    private void UpdateRelayService()
    {
        // Auto: once AutoNAT confirmed we are public, or before any verdict if we listen on a public IP (a server);
        // a peer behind a NAT must not attract reservations from other NATed peers it happens to be connected to.
        var serve = _options.Relay.Mode == RelayMode.On || (_options.Relay.Mode == RelayMode.Auto
            && (Reachability == Reachability.Public || (Reachability == Reachability.Unknown && ListensOnPublicIp())));
        if (serve == Volatile.Read(ref _servingRelay))
        {
            return;
        }
        Volatile.Write(ref _servingRelay, serve);
        if (serve)
        {
            SetStreamHandler(HopMessage.ProtocolId, ServeHopAsync);
        }
        else
        {
            RemoveStreamHandler(HopMessage.ProtocolId);
            lock (_relayLock)
            {
                _reservations.Clear();
            }
        }
        _log.LogInformation("Relay service {State}", serve ? "on" : "off (we are not publicly reachable)");
    }

    private bool ListensOnPublicIp() => _listenAddresses.Any(a => AddressScope.IpOf(a) is { } ip && AddressScope.IsPublic(ip));

    private async Task ServeHopAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var connection = FindConnection(peer, stream);
        if (connection is null || stream is not YamuxStream hop)
        {
            return;
        }
        HopMessage request;
        try
        {
            var bytes = await stream.ReadLengthPrefixedAsync(HopMessage.MaxMessageBytes, ct).ConfigureAwait(false)
                ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "no hop message");
            request = HopMessage.Decode(bytes);
        }
        catch (ProtocolException e)
        {
            _log.LogWarning("Malformed hop message from {Peer} ({Code}): {Reason}", peer, e.Code, e.Message);
            await ReplyHopAsync(stream, RelayStatus.MalformedMessage, ct).ConfigureAwait(false);
            return;
        }
        if (connection.IsRelayed)
        {
            // The spec: no reservations or circuits over a relayed connection (relay chains).
            await ReplyHopAsync(stream, RelayStatus.PermissionDenied, ct).ConfigureAwait(false);
            return;
        }
        switch (request.Type)
        {
            case HopMessageType.Reserve:
                await ReserveAsync(connection, stream, ct).ConfigureAwait(false);
                break;
            case HopMessageType.Connect:
                await RelayConnectAsync(connection, hop, request, ct).ConfigureAwait(false);
                break;
            default:
                await ReplyHopAsync(stream, RelayStatus.UnexpectedMessage, ct).ConfigureAwait(false);
                break;
        }
    }

    private async Task ReserveAsync(PeerConnection connection, Stream stream, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var expire = now + _options.Relay.ReservationTtl;
        bool granted;
        lock (_relayLock)
        {
            // A reservation is only valid while its holder stays connected (spec): a departed peer frees its slot.
            foreach (var stale in _reservations.Where(r => r.Value <= now || GetDirectConnection(r.Key) is null).Select(r => r.Key).ToList())
            {
                _reservations.Remove(stale);
            }
            granted = _reservations.ContainsKey(connection.RemotePeer) || _reservations.Count < _options.Relay.ReservationsMax;
            if (granted)
            {
                _reservations[connection.RemotePeer] = expire;
            }
        }
        if (!granted)
        {
            _log.LogInformation("Refusing relay reservation of {Peer}: {Max} reservations held", connection.RemotePeer, _options.Relay.ReservationsMax);
            await ReplyHopAsync(stream, RelayStatus.ReservationRefused, ct).ConfigureAwait(false);
            return;
        }
        var addresses = RelayAddressesForClients();
        var reply = new HopMessage(HopMessageType.Status, Reservation: new RelayReservation((ulong)expire.ToUnixTimeSeconds(), addresses),
            Limit: CircuitLimit(), Status: RelayStatus.Ok);
        _log.LogInformation("Relay reservation for {Peer} until {Expire:u}", connection.RemotePeer, expire);
        await stream.WriteLengthPrefixedAsync(reply.Encode(), ct).ConfigureAwait(false);
        await stream.CloseWriteAsync(ct).ConfigureAwait(false);
    }

    private async Task RelayConnectAsync(PeerConnection source, YamuxStream hop, HopMessage request, CancellationToken ct)
    {
        var target = request.Peer?.Id;
        if (target is null)
        {
            await ReplyHopAsync(hop, RelayStatus.MalformedMessage, ct).ConfigureAwait(false);
            return;
        }
        var targetConnection = GetDirectConnection(target);
        bool reserved;
        lock (_relayLock)
        {
            reserved = _reservations.TryGetValue(target, out var expire) && expire > _time.GetUtcNow();
        }
        if (!reserved || targetConnection is null)
        {
            await ReplyHopAsync(hop, RelayStatus.NoReservation, ct).ConfigureAwait(false);
            return;
        }
        if (!TryEnterCircuit(source.RemotePeer, target))
        {
            await ReplyHopAsync(hop, RelayStatus.ResourceLimitExceeded, ct).ConfigureAwait(false);
            return;
        }
        try
        {
            var stop = await OpenStopAsync(targetConnection, source.RemotePeer, ct).ConfigureAwait(false);
            if (stop is null)
            {
                await ReplyHopAsync(hop, RelayStatus.ConnectionFailed, ct).ConfigureAwait(false);
                return;
            }
            await using (stop.ConfigureAwait(false))
            {
                await hop.WriteLengthPrefixedAsync(new HopMessage(HopMessageType.Status, Limit: CircuitLimit(), Status: RelayStatus.Ok).Encode(), ct)
                    .ConfigureAwait(false);
                _log.LogInformation("Relaying {Source} -> {Target}", source.RemotePeer, target);
                using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, targetConnection.Closed);
                var why = await RelayCircuit.BridgeAsync(hop, stop, _options.Relay.CircuitBytesMax, _options.Relay.CircuitDurationMax, _time, both.Token)
                    .ConfigureAwait(false);
                _log.LogInformation("Relayed connection {Source} -> {Target} ended: {Reason}", source.RemotePeer, target, why);
            }
        }
        finally
        {
            ExitCircuit(source.RemotePeer, target);
        }
    }

    /// <summary>Opens the stop stream to the target and waits for its OK; null if it refused or failed.</summary>
    private async Task<YamuxStream?> OpenStopAsync(PeerConnection target, PeerId source, CancellationToken ct)
    {
        var stream = target.Session.OpenStream();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct, target.Closed);
            deadline.CancelAfter(_options.StreamNegotiationTimeout);
            await Multistream.MultistreamSelect.SelectAsync(stream, [StopMessage.ProtocolId], deadline.Token, _options.MaxMultistreamMessageBytes)
                .ConfigureAwait(false);
            var connect = new StopMessage(StopMessageType.Connect, new PeerAddressInfo(source, []), CircuitLimit());
            await stream.WriteLengthPrefixedAsync(connect.Encode(), deadline.Token).ConfigureAwait(false);
            var bytes = await stream.ReadLengthPrefixedAsync(StopMessage.MaxMessageBytes, deadline.Token).ConfigureAwait(false);
            var reply = bytes is null ? null : StopMessage.Decode(bytes);
            if (reply is { Type: StopMessageType.Status, Status: RelayStatus.Ok })
            {
                return stream;
            }
            _log.LogInformation("Target {Target} refused the relayed connection: {Status}", target.RemotePeer, reply?.Status);
        }
        catch (Exception e)
        {
            _log.LogInformation("Stop stream to {Target} failed: {Reason}", target.RemotePeer, e.Message);
        }
        stream.Reset();
        await stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    private bool TryEnterCircuit(PeerId source, PeerId target)
    {
        lock (_relayLock)
        {
            var max = _options.Relay.CircuitsPerPeerMax;
            if (_circuits >= _options.Relay.CircuitsMax || _circuitsPerPeer.GetValueOrDefault(source) >= max || _circuitsPerPeer.GetValueOrDefault(target) >= max)
            {
                return false;
            }
            _circuits++;
            _circuitsPerPeer[source] = _circuitsPerPeer.GetValueOrDefault(source) + 1;
            _circuitsPerPeer[target] = _circuitsPerPeer.GetValueOrDefault(target) + 1;
            return true;
        }
    }

    private void ExitCircuit(PeerId source, PeerId target)
    {
        lock (_relayLock)
        {
            _circuits--;
            foreach (var peer in new[] { source, target })
            {
                if (--_circuitsPerPeer[peer] <= 0)
                {
                    _circuitsPerPeer.Remove(peer);
                }
            }
        }
    }

    private RelayLimit CircuitLimit() =>
        new((uint)Math.Ceiling(_options.Relay.CircuitDurationMax.TotalSeconds), (ulong)_options.Relay.CircuitBytesMax);

    /// <summary>Our addresses for clients to build circuits on: public ones if we have any, else all (LAN, tests).</summary>
    private IReadOnlyList<Multiaddr> RelayAddressesForClients()
    {
        var direct = ListenAddresses.Where(a => !AddressScope.IsCircuit(a)).ToArray();
        var publicOnes = direct.Where(a => AddressScope.IpOf(a) is { } ip && AddressScope.IsPublic(ip)).ToArray();
        return publicOnes.Length > 0 ? publicOnes : direct;
    }

    private PeerConnection? GetDirectConnection(PeerId peer)
    {
        lock (_connectionsLock)
        {
            return _connections.TryGetValue(peer, out var list) ? list.FirstOrDefault(c => !c.Session.IsClosed && !c.IsRelayed) : null;
        }
    }

    private static async Task ReplyHopAsync(Stream stream, RelayStatus status, CancellationToken ct)
    {
        await stream.WriteLengthPrefixedAsync(new HopMessage(HopMessageType.Status, Status: status).Encode(), ct).ConfigureAwait(false);
        await stream.CloseWriteAsync(ct).ConfigureAwait(false);
    }
}
