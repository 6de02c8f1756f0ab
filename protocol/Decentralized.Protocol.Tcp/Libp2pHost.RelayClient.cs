using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Relay;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// Circuit relay v2, client side: reserving slots on relays we are directly connected to (once we know we are private),
/// renewing them before they expire, announcing <c>/p2p-circuit</c> addresses, accepting relayed connections
/// (<c>/libp2p/circuit/relay/0.2.0/stop</c>) from those relays only, and dialing peers through a relay.
/// </summary>
public sealed partial class Libp2pHost
{
    private readonly object _clientLock = new();
    private readonly Dictionary<PeerId, (DateTimeOffset Expire, IReadOnlyList<Multiaddr> Circuits)> _heldReservations = new();
    private readonly SemaphoreSlim _reserving = new(1, 1);
    private ITimer? _renewTimer;

    /// <summary>Relays holding a reservation for us.</summary>
    public IReadOnlyList<PeerId> RelayReservations
    {
        get { lock (_clientLock) { return [.. _heldReservations.Keys]; } }
    }

    /// <summary>Connected peers (directly) that offer the hop protocol, i.e. could relay for us.</summary>
    public IReadOnlyList<PeerId> KnownRelays =>
        [.. AllConnections().Where(c => !c.IsRelayed && c.Identify?.Protocols.Contains(HopMessage.ProtocolId) == true).Select(c => c.RemotePeer).Distinct()];

    /// <summary>
    /// Reserves on up to <see cref="RelayOptions.ClientRelaysMax"/> known relays (if we have fewer) and returns when
    /// that attempt is over. Called on its own when AutoNAT finds us private; callable directly (doctor, tests).
    /// </summary>
    public async Task WaitForRelayReservationAsync(CancellationToken cancellationToken)
    {
        await _reserving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var held = RelayReservations;
            foreach (var relay in KnownRelays.Where(r => !held.Contains(r)).Take(_options.Relay.ClientRelaysMax - held.Count))
            {
                await ReserveOnAsync(relay, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _reserving.Release();
        }
    }

    /// <summary>Sends RESERVE to <paramref name="relay"/>; true if granted. Renewal is the same request.</summary>
    public async Task<bool> ReserveOnAsync(PeerId relay, CancellationToken cancellationToken)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_options.StreamNegotiationTimeout);
            var stream = await OpenStreamAsync(relay, HopMessage.ProtocolId, deadline.Token).ConfigureAwait(false);
            HopMessage reply;
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteLengthPrefixedAsync(new HopMessage(HopMessageType.Reserve).Encode(), deadline.Token).ConfigureAwait(false);
                var bytes = await stream.ReadLengthPrefixedAsync(HopMessage.MaxMessageBytes, deadline.Token).ConfigureAwait(false)
                    ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "relay closed without answering");
                reply = HopMessage.Decode(bytes);
            }
            if (reply.Type != HopMessageType.Status || reply.Status != RelayStatus.Ok || reply.Reservation is null)
            {
                _log.LogInformation("Relay {Relay} refused our reservation: {Status}", relay, reply.Status);
                return false;
            }
            var expire = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(reply.Reservation.ExpireUnixSeconds, (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds()));
            var circuits = CircuitAddresses(relay, reply.Reservation.Addresses);
            lock (_clientLock)
            {
                _heldReservations[relay] = (expire, circuits);
            }
            _log.LogInformation("Reserved a slot on relay {Relay} until {Expire:u} (limit {Seconds} s, {Bytes} bytes per connection)",
                relay, expire, reply.Limit?.DurationSeconds, reply.Limit?.DataBytes);
            PublishCircuits();
            EnsureRenewTimer();
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _log.LogInformation("Reservation on relay {Relay} failed: {Reason}", relay, e.Message);
            return false;
        }
    }

    /// <summary>relay-address/p2p-circuit/p2p/us, starting with the address we reached the relay on.</summary>
    private IReadOnlyList<Multiaddr> CircuitAddresses(PeerId relay, IReadOnlyList<Multiaddr> offered)
    {
        var circuit = Multiaddr.Parse($"/p2p-circuit/p2p/{LocalPeer}");
        var dialed = GetDirectConnection(relay) is { IsInitiator: true } c ? [c.RemoteAddress] : Array.Empty<Multiaddr>();
        return [.. dialed.Concat(offered).Where(a => !AddressScope.IsCircuit(a) && TcpAddress.IsDialable(a.WithoutPeerId()))
            .Select(a => a.WithPeerId(relay)).Distinct().Take(4).Select(a => a.Encapsulate(circuit))];
    }

    private void PublishCircuits()
    {
        IReadOnlyList<Multiaddr> all;
        lock (_clientLock)
        {
            all = [.. _heldReservations.Values.SelectMany(r => r.Circuits)];
        }
        SetCircuitAddresses(all);
    }

    /// <summary>Renews each reservation when half its lifetime is left; drops those whose relay went away.</summary>
    private void EnsureRenewTimer()
    {
        if (_renewTimer is not null)
        {
            return;
        }
        var period = TimeSpan.FromSeconds(Math.Clamp(_options.Relay.ReservationTtl.TotalSeconds / 4, 5, 300));
        _renewTimer = _time.CreateTimer(_ => _ = RenewAsync(), null, period, period);
    }

    private async Task RenewAsync()
    {
        KeyValuePair<PeerId, (DateTimeOffset Expire, IReadOnlyList<Multiaddr> Circuits)>[] held;
        lock (_clientLock)
        {
            held = [.. _heldReservations];
        }
        var now = _time.GetUtcNow();
        foreach (var (relay, reservation) in held)
        {
            var gone = GetDirectConnection(relay) is null;
            if (gone || reservation.Expire <= now)
            {
                lock (_clientLock)
                {
                    _heldReservations.Remove(relay);
                }
                PublishCircuits();
            }
            if (!gone && reservation.Expire - now < _options.Relay.ReservationTtl / 2 + TimeSpan.FromMinutes(1))
            {
                await ReserveOnAsync(relay, _lifetime.Token).ConfigureAwait(false);
            }
        }
        if (Reachability == Reachability.Private && _options.Relay.AutoReserve)
        {
            await WaitForRelayReservationAsync(_lifetime.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A relay announces an incoming relayed connection. Accepted only from relays we reserved on; the stream then
    /// becomes the transport of a new connection (we are the responder), held open until that connection closes.
    /// </summary>
    private async Task ServeStopAsync(PeerId relay, Stream stream, CancellationToken ct)
    {
        var relayConnection = FindConnection(relay, stream);
        StopMessage request;
        try
        {
            var bytes = await stream.ReadLengthPrefixedAsync(StopMessage.MaxMessageBytes, ct).ConfigureAwait(false)
                ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "no stop message");
            request = StopMessage.Decode(bytes);
            if (request.Type != StopMessageType.Connect || request.Peer?.Id is null)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "expected CONNECT with the initiator's peer id");
            }
        }
        catch (ProtocolException e)
        {
            _log.LogWarning("Malformed stop message from {Relay} ({Code}): {Reason}", relay, e.Code, e.Message);
            await ReplyStopAsync(stream, RelayStatus.MalformedMessage, ct).ConfigureAwait(false);
            return;
        }
        bool reserved;
        lock (_clientLock)
        {
            reserved = _heldReservations.ContainsKey(relay);
        }
        if (!reserved || relayConnection is null || relayConnection.IsRelayed)
        {
            await ReplyStopAsync(stream, RelayStatus.PermissionDenied, ct).ConfigureAwait(false);
            return;
        }
        await stream.WriteLengthPrefixedAsync(new StopMessage(StopMessageType.Status, Status: RelayStatus.Ok).Encode(), ct).ConfigureAwait(false);
        var source = request.Peer.Id!;
        var remote = relayConnection.RemoteAddress.WithPeerId(relay).Encapsulate(Multiaddr.Parse($"/p2p-circuit/p2p/{source}"));
        var transport = new CountingStream(stream, LimitBytes(request.Limit), "relay data");
        var connection = await UpgradeAsync(transport, remote, isInitiator: false, source, relayed: true, ct).ConfigureAwait(false);
        connection = Register(connection);
        ArmDurationLimit(connection, request.Limit);
        // The handler owns the stream: returning would close the relayed connection under our feet.
        await connection.Session.Completion.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Dials <c>…/p2p/relay/p2p-circuit/p2p/target</c>: CONNECT through the relay, then the usual upgrade as initiator.</summary>
    private async Task<PeerConnection> DialRelayedAsync(Multiaddr address, PeerId? expected)
    {
        var components = address.Components;
        var split = components.ToList().FindIndex(c => c.Protocol == MultiaddrProtocol.P2pCircuit);
        var relayAddress = Multiaddr.FromComponents(components.Take(split));
        var relay = relayAddress.GetPeerId() ?? throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{address}: the relay part needs /p2p/<relay id>");
        var target = expected ?? throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{address}: a circuit address needs /p2p/<target id>");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        deadline.CancelAfter(_options.HandshakeTimeout + _options.DialTimeout);
        var relayConnection = GetDirectConnection(relay) ?? await DialConnectionAsync(relayAddress, deadline.Token).ConfigureAwait(false);
        if (relayConnection.IsRelayed)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{address}: will not chain relays");
        }
        var stream = relayConnection.Session.OpenStream();
        try
        {
            await Multistream.MultistreamSelect.SelectAsync(stream, [HopMessage.ProtocolId], deadline.Token, _options.MaxMultistreamMessageBytes)
                .ConfigureAwait(false);
            await stream.WriteLengthPrefixedAsync(new HopMessage(HopMessageType.Connect, new PeerAddressInfo(target, [])).Encode(), deadline.Token)
                .ConfigureAwait(false);
            var bytes = await stream.ReadLengthPrefixedAsync(HopMessage.MaxMessageBytes, deadline.Token).ConfigureAwait(false);
            var reply = bytes is null ? null : HopMessage.Decode(bytes);
            if (reply is not { Type: HopMessageType.Status, Status: RelayStatus.Ok })
            {
                throw new ProtocolException(ProtocolErrorCode.DialFailed, $"relay {relay} could not connect us to {target}: {reply?.Status.ToString() ?? "no answer"}");
            }
            var transport = new CountingStream(stream, LimitBytes(reply.Limit), "relay data");
            var connection = Register(await UpgradeAsync(transport, address, isInitiator: true, target, relayed: true, deadline.Token).ConfigureAwait(false));
            ArmDurationLimit(connection, reply.Limit);
            return connection;
        }
        catch
        {
            stream.Reset();
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static long LimitBytes(RelayLimit? limit) => limit is { DataBytes: > 0 and <= long.MaxValue } ? (long)limit.DataBytes : long.MaxValue;

    /// <summary>Closes a relayed connection just before the relay would reset it, so our side sees a clean close.</summary>
    private void ArmDurationLimit(PeerConnection connection, RelayLimit? limit)
    {
        if (limit is not { DurationSeconds: > 0 } || !connection.IsRelayed)
        {
            return;
        }
        var timer = _time.CreateTimer(_ => _ = CloseConnectionAsync(connection, "relay duration limit reached"), null,
            TimeSpan.FromSeconds(limit.DurationSeconds), Timeout.InfiniteTimeSpan);
        connection.Closed.Register(timer.Dispose);
    }

    private static async Task ReplyStopAsync(Stream stream, RelayStatus status, CancellationToken ct)
    {
        await stream.WriteLengthPrefixedAsync(new StopMessage(StopMessageType.Status, Status: status).Encode(), ct).ConfigureAwait(false);
        await stream.CloseWriteAsync(ct).ConfigureAwait(false);
    }
}
