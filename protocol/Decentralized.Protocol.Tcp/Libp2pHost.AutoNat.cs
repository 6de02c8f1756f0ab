using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

/// <summary>AutoNAT v1: serving dial-back requests within the spec's limits, and asking peers to dial us back.</summary>
public sealed partial class Libp2pHost
{
    private DialBackThrottle? _dialBackThrottle;
    private readonly ConcurrentDictionary<PeerId, int> _awaitingDialBack = new();

    /// <summary>
    /// True while we wait for <paramref name="server"/> to dial us back: its probe connection must not be refused by
    /// the per-peer connection limit (it closes again at once), or the answer would be a false "private".
    /// </summary>
    private bool AwaitsDialBack(PeerId server) => _awaitingDialBack.ContainsKey(server);

    private void RegisterAutoNat()
    {
        if (!_options.Nat.AutoNatServer)
        {
            return;
        }
        _dialBackThrottle = new DialBackThrottle(_time, _options.Nat.DialBacksPerMinute, _options.Nat.DialBacksPerPeerPerMinute);
        SetStreamHandler(AutoNatMessage.ProtocolId, ServeAutoNatAsync);
    }

    /// <summary>
    /// Asks up to <see cref="ReachabilityTracker.Window"/> directly connected peers that serve AutoNAT to dial us back,
    /// records their answers and returns the verdict (Unknown if nobody answered). Safe to call repeatedly.
    /// </summary>
    public async Task<Reachability> CheckReachabilityAsync(CancellationToken cancellationToken)
    {
        await _checking.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await CheckReachabilityOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _checking.Release();
        }
    }

    private readonly SemaphoreSlim _checking = new(1, 1);

    private async Task<Reachability> CheckReachabilityOnceAsync(CancellationToken cancellationToken)
    {
        // Only identified peers say whether they serve AutoNAT, and identify runs beside the dial: right after a dial
        // (the doctor checks at once) the answer may still be on its way, and asking nobody would read as "unknown".
        var identifying = AllConnections().Where(c => !c.IsRelayed && c.Identify is null).Select(c => c.IdentifyEnded).ToArray();
        if (identifying.Length > 0)
        {
            try
            {
                await Task.WhenAll(identifying).WaitAsync(_options.HandshakeTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A peer that never answers identify is simply not asked; the others are.
            }
        }
        var servers = AllConnections().Where(c => !c.IsRelayed && c.Identify?.Protocols.Contains(AutoNatMessage.ProtocolId) == true)
            .Select(c => c.RemotePeer).Distinct().Take(ReachabilityTracker.Window).ToArray();
        var before = Reachability;
        await Task.WhenAll(servers.Select(s => AskDialBackAsync(s, cancellationToken))).ConfigureAwait(false);
        var after = Reachability;
        if (after != before)
        {
            _log.LogInformation("Reachability is now {Reachability} ({Answers} peers answered)", after, _reachability.Answers);
            try
            {
                ReachabilityChanged?.Invoke(after);
            }
            catch (Exception e)
            {
                _log.LogError(e, "ReachabilityChanged handler failed");
            }
            UpdateRelayService();
            _ = PushIdentifyAsync();
        }
        if (after == Reachability.Private && _options.Relay.AutoReserve)
        {
            await WaitForRelayReservationAsync(cancellationToken).ConfigureAwait(false);
        }
        return after;
    }

    /// <summary>Sends one DIAL request to <paramref name="server"/>; returns its answer (or null if it gave none).</summary>
    public async Task<AutoNatMessage?> AskDialBackAsync(PeerId server, CancellationToken cancellationToken)
    {
        _awaitingDialBack.AddOrUpdate(server, 1, (_, n) => n + 1);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // The server may try several addresses, each up to its own dial-back timeout; ours is a generous bound.
            deadline.CancelAfter(_options.Nat.DialBackTimeout * (_options.Nat.DialBackAddressesMax + 2));
            var stream = await OpenStreamAsync(server, AutoNatMessage.ProtocolId, deadline.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var request = AutoNatMessage.DialRequest(new PeerAddressInfo(LocalPeer, DialBackCandidates()));
                await stream.WriteLengthPrefixedAsync(request.Encode(), deadline.Token).ConfigureAwait(false);
                var bytes = await stream.ReadLengthPrefixedAsync(AutoNatMessage.MaxMessageBytes, deadline.Token).ConfigureAwait(false)
                    ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "AutoNAT server closed without answering");
                var response = AutoNatMessage.Decode(bytes);
                if (response.IsDial)
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "AutoNAT server answered with a DIAL request");
                }
                _reachability.Record(server, response.Status);
                if (response.Status == AutoNatStatus.Ok && response.Address is { } confirmed && !AddressScope.IsCircuit(confirmed))
                {
                    var bare = confirmed.WithoutPeerId();
                    _confirmedAddresses = [.. _confirmedAddresses.Where(a => !a.Equals(bare)).Prepend(bare).Take(4)];
                }
                _log.LogDebug("AutoNAT via {Server}: {Status} {Text}", server, response.Status, response.StatusText);
                return response;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _log.LogDebug("AutoNAT request to {Server} failed: {Reason}", server, e.Message);
            return null;
        }
        finally
        {
            if (_awaitingDialBack.AddOrUpdate(server, 0, (_, n) => n - 1) <= 0)
            {
                _awaitingDialBack.TryRemove(server, out _);
            }
        }
    }

    /// <summary>
    /// The server side. The spec's limits: never over a relayed connection, only addresses on the IP the request
    /// came from (so we cannot be aimed at a third party), a rate limit, a cap on addresses tried, and a fresh
    /// connection for each dial-back (reusing ours would prove nothing). A malformed request gets E_BAD_REQUEST and
    /// ends only this stream.
    /// </summary>
    private async Task ServeAutoNatAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var connection = FindConnection(peer, stream);
        if (connection is null)
        {
            return;
        }
        AutoNatMessage request;
        try
        {
            var bytes = await stream.ReadLengthPrefixedAsync(AutoNatMessage.MaxMessageBytes, ct).ConfigureAwait(false)
                ?? throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "no request");
            request = AutoNatMessage.Decode(bytes);
            if (!request.IsDial)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "expected a DIAL request");
            }
            if (request.Dial!.Id is { } id && id != peer)
            {
                throw new ProtocolException(ProtocolErrorCode.PeerIdMismatch, "DIAL request names another peer");
            }
        }
        catch (ProtocolException e)
        {
            _log.LogWarning("Malformed AutoNAT request from {Peer} ({Code}): {Reason}", peer, e.Code, e.Message);
            await RespondAsync(AutoNatStatus.BadRequest, e.Message).ConfigureAwait(false);
            return;
        }
        var (status, text, dialed) = await DialBackAsync(connection, request.Dial!, ct).ConfigureAwait(false);
        await RespondAsync(status, text, dialed).ConfigureAwait(false);

        async Task RespondAsync(AutoNatStatus s, string? t, Multiaddr? a = null)
        {
            await stream.WriteLengthPrefixedAsync(AutoNatMessage.DialResponse(s, t, a).Encode(), ct).ConfigureAwait(false);
            await stream.CloseWriteAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task<(AutoNatStatus, string, Multiaddr?)> DialBackAsync(PeerConnection connection, PeerAddressInfo request, CancellationToken ct)
    {
        if (connection.IsRelayed)
        {
            return (AutoNatStatus.DialRefused, "dial-back requests over relayed connections are refused (spec)", null);
        }
        var observedIp = AddressScope.IpOf(connection.RemoteAddress);
        var candidates = request.Addresses.Append(connection.RemoteAddress)
            .Where(a => !AddressScope.IsCircuit(a) && AddressScope.TcpPortOf(a) is > 0 && observedIp is not null && observedIp.Equals(AddressScope.IpOf(a)))
            .Select(a => a.WithoutPeerId()).Distinct().Take(_options.Nat.DialBackAddressesMax).ToArray();
        if (candidates.Length == 0)
        {
            return (AutoNatStatus.DialRefused, $"no TCP address on your observed IP {observedIp}", null);
        }
        if (_dialBackThrottle?.TryAcquire(connection.RemotePeer) != true)
        {
            return (AutoNatStatus.DialRefused, "dial-back rate limit reached; try again in a minute", null);
        }
        foreach (var address in candidates)
        {
            if (await ProbeDialAsync(address, connection.RemotePeer, _options.Nat.DialBackTimeout, ct).ConfigureAwait(false))
            {
                _log.LogDebug("AutoNAT: dialed {Peer} back on {Address}", connection.RemotePeer, address);
                return (AutoNatStatus.Ok, "dialed back", address);
            }
        }
        return (AutoNatStatus.DialError, $"could not dial {string.Join(", ", candidates.Select(c => c.ToString()))}", null);
    }

    /// <summary>
    /// Opens a fresh TCP connection to <paramref name="address"/> from an ephemeral port, runs the whole upgrade
    /// (so the right peer answered), and closes it without registering it. True if the peer answered.
    /// </summary>
    internal async Task<bool> ProbeDialAsync(Multiaddr address, PeerId expected, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct, _lifetime.Token);
        deadline.CancelAfter(timeout);
        try
        {
            var tcp = TcpAddress.Parse(address);
            var ip = tcp.Ip ?? (await Dns.GetHostAddressesAsync(tcp.Host, tcp.Family, deadline.Token).ConfigureAwait(false)).First();
            var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(ip, tcp.Port), deadline.Token).ConfigureAwait(false);
                ConfigureSocket(socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            var connection = await UpgradeAsync(socket, address, isInitiator: true, expected, deadline.Token).ConfigureAwait(false);
            await CloseConnectionAsync(connection, "dial-back probe done").ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogDebug("Dial-back to {Address} failed: {Reason}", address, e.Message);
            return false;
        }
    }

    /// <summary>Tells every connected peer our current addresses and protocols (identify push).</summary>
    private async Task PushIdentifyAsync()
    {
        foreach (var connection in AllConnections())
        {
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed);
                deadline.CancelAfter(_options.StreamNegotiationTimeout);
                var stream = connection.Session.OpenStream();
                await using (stream.ConfigureAwait(false))
                {
                    await Multistream.MultistreamSelect.SelectAsync(stream, [IdentifyMessage.PushProtocolId], deadline.Token, _options.MaxMultistreamMessageBytes)
                        .ConfigureAwait(false);
                    await stream.WriteLengthPrefixedAsync(BuildIdentify(connection).Encode(), deadline.Token).ConfigureAwait(false);
                    await stream.CloseWriteAsync(deadline.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                _log.LogDebug("Identify push to {Connection} failed: {Reason}", connection, e.Message);
            }
        }
    }

    private long _lastReachabilityCheck;
    private int _checkingReachability;

    /// <summary>Automatic follow-ups when a direct peer has told us what it serves (see <see cref="NatOptions.AutoReachability"/>).</summary>
    private void OnPeerIdentified(PeerConnection connection)
    {
        if (connection.IsRelayed)
        {
            MaybeStartHolePunch(connection);
            return;
        }
        if (!_options.Nat.AutoReachability || connection.Identify is null)
        {
            return;
        }
        var protocols = connection.Identify.Protocols;
        var due = Reachability == Reachability.Unknown
            || _time.GetElapsedTime(Interlocked.Read(ref _lastReachabilityCheck)) >= _options.Nat.ReachabilityRecheckInterval;
        if (protocols.Contains(AutoNatMessage.ProtocolId) && due && Interlocked.Exchange(ref _checkingReachability, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await CheckReachabilityAsync(_lifetime.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
                finally
                {
                    Interlocked.Exchange(ref _lastReachabilityCheck, _time.GetTimestamp());
                    Interlocked.Exchange(ref _checkingReachability, 0);
                }
            });
        }
        // Reserve while private, and already before the verdict when we only listen on private addresses: AutoNAT
        // against a router that drops packets takes a dial-back timeout, and peers that learn our addresses in
        // the meantime must find a circuit among them. A reservation we turn out not to need costs the relay a slot.
        var likelyPrivate = Reachability == Reachability.Private
            || (Reachability == Reachability.Unknown && !ListensOnPublicIp()
                && _listenAddresses.Any(a => AddressScope.IpOf(a) is { } ip && !IPAddress.IsLoopback(ip)));
        if (protocols.Contains(Relay.HopMessage.ProtocolId) && likelyPrivate && _options.Relay.AutoReserve)
        {
            _ = WaitForRelayReservationAsync(_lifetime.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
