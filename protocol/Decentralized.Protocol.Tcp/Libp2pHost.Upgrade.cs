using System.Net.Sockets;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Noise;
using Decentralized.Protocol.Ping;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private static readonly string[] Muxers = [YamuxSession.ProtocolId];
    private static readonly TimeSpan GateRefusalLinger = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Raw socket → multistream <c>/noise</c> → Noise XX → muxer (inline if both payloads listed muxers, else multistream
    /// <c>/yamux/1.0.0</c>) → Yamux → connection gate. Everything must finish within the handshake timeout.
    /// </summary>
    private Task<PeerConnection> UpgradeAsync(Socket socket, Multiaddr remoteAddress, bool isInitiator, PeerId? expectedPeer, CancellationToken ct) =>
        UpgradeAsync(_link.Wrap(new NetworkStream(socket, ownsSocket: true)), remoteAddress, isInitiator, expectedPeer, relayed: false, ct);

    /// <summary>The same upgrade over any byte stream: a relay circuit is upgraded exactly like a TCP socket.</summary>
    private async Task<PeerConnection> UpgradeAsync(Stream transport, Multiaddr remoteAddress, bool isInitiator, PeerId? expectedPeer, bool relayed, CancellationToken ct)
    {
        var counter = new CountingStream(transport);
        using var deadline = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        // Socket reads do observe tokens, but disposing guarantees nothing stays blocked past the deadline.
        await using var abort = linked.Token.Register(counter.Dispose).ConfigureAwait(false);
        YamuxSession? session = null;
        try
        {
            var token = linked.Token;
            var max = _options.MaxMultistreamMessageBytes;
            _ = isInitiator
                ? await MultistreamSelect.SelectAsync(counter, [NoiseHandshake.ProtocolId], token, max).ConfigureAwait(false)
                : await MultistreamSelect.ListenAsync(counter, [NoiseHandshake.ProtocolId], token, max).ConfigureAwait(false);
            var noise = await NoiseHandshake.RunAsync(counter, _options.Identity, isInitiator, expectedPeer, Muxers, token).ConfigureAwait(false);
            if (noise.RemotePeer == LocalPeer)
            {
                throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "connected to ourselves");
            }
            await NegotiateMuxerAsync(noise, isInitiator, token).ConfigureAwait(false);
            // Until the gate passes, Noise has only shown that the peer holds some key: it may open a handful of streams
            // with little unread data (see YamuxOptions.MaxInboundStreamsUntrusted), not 256 full windows.
            session = new YamuxSession(noise.Stream, isClient: isInitiator, _options.Yamux, _time, untrusted: _options.ConnectionGate is not null);
            session.Start();
            var connection = new PeerConnection(noise.RemotePeer, remoteAddress, isInitiator, session, counter, relayed);
            await RunGateAsync(connection, token).ConfigureAwait(false);
            session.Trust();
            return connection;
        }
        catch (Exception e)
        {
            if (e is ProtocolException { Code: ProtocolErrorCode.GateRejected } && !ct.IsCancellationRequested)
            {
                // Both sides wrote their last gate message before checking; closing at once can reset the socket
                // before the peer has read ours, and then it sees "connection closed" instead of the reason.
                await Task.Delay(GateRefusalLinger, _time, CancellationToken.None).ConfigureAwait(false);
            }
            session?.Abort(e);
            counter.Dispose();
            if (deadline.IsCancellationRequested && !ct.IsCancellationRequested && !IsPlainPeer(e))
            {
                throw new ProtocolException(ProtocolErrorCode.Timeout, $"handshake did not finish within {_options.HandshakeTimeout}", e);
            }
            throw;
        }
    }

    private async Task NegotiateMuxerAsync(NoiseResult noise, bool isInitiator, CancellationToken ct)
    {
        // We always list our muxers, so the inline result counts iff the remote listed some too (js's rule agrees).
        if (noise.RemoteMuxers.Count > 0)
        {
            if (!noise.RemoteMuxers.Contains(YamuxSession.ProtocolId))
            {
                throw new ProtocolException(ProtocolErrorCode.ProtocolNotSupported,
                    $"no common muxer; remote offers {string.Join(", ", noise.RemoteMuxers)}");
            }
            return;
        }
        var max = _options.MaxMultistreamMessageBytes;
        _ = isInitiator
            ? await MultistreamSelect.SelectAsync(noise.Stream, Muxers, ct, max).ConfigureAwait(false)
            : await MultistreamSelect.ListenAsync(noise.Stream, Muxers, ct, max).ConfigureAwait(false);
    }

    private async Task RunGateAsync(PeerConnection connection, CancellationToken ct)
    {
        var gate = _options.ConnectionGate;
        if (gate is null)
        {
            return;
        }
        var protocol = _options.ConnectionGateProtocol;
        YamuxStream stream;
        if (connection.IsInitiator)
        {
            stream = connection.Session.OpenStream();
            await MultistreamSelect.SelectAsync(stream, [protocol], ct, _options.MaxMultistreamMessageBytes).ConfigureAwait(false);
        }
        else
        {
            stream = await AcceptGateStreamAsync(connection, protocol, ct).ConfigureAwait(false);
        }
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await gate(connection.RemotePeer, stream, connection.IsInitiator, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new ProtocolException(ProtocolErrorCode.GateRejected, $"connection gate refused {connection.RemotePeer}: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// Accepts the initiator's streams until one selects the gate. A member opens the gate stream first; a stock libp2p
    /// peer never does, but may ask identify and ping, which any libp2p peer answers: those are served here (identify
    /// naming only identify and ping, the protocols usable before the gate). Any other protocol is refused ("na") and the
    /// stream dropped. At most <see cref="PreGateStreamsMax"/> streams, all within the handshake deadline, after which
    /// the connection closes: nothing of the swarm is reachable without passing the gate.
    /// </summary>
    private async Task<YamuxStream> AcceptGateStreamAsync(PeerConnection connection, string gateProtocol, CancellationToken ct)
    {
        string[] supported = [gateProtocol, IdentifyMessage.ProtocolId, PingProtocol.ProtocolId];
        var served = 0;
        for (var i = 0; i < PreGateStreamsMax; i++)
        {
            YamuxStream stream;
            try
            {
                stream = await connection.Session.AcceptStreamAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (served > 0 && !_lifetime.IsCancellationRequested
                && e is OperationCanceledException or ProtocolException { Code: ProtocolErrorCode.ConnectionClosed })
            {
                // A stock libp2p peer hangs up or waits out the deadline: say what it was rather than warn of a failed handshake.
                throw new ProtocolException(ProtocolErrorCode.GateRejected, PlainPeer, e);
            }
            string chosen;
            try
            {
                chosen = await MultistreamSelect.ListenAsync(stream, supported, ct, _options.MaxMultistreamMessageBytes).ConfigureAwait(false);
            }
            catch (ProtocolException)
            {
                await stream.DisposeAsync().ConfigureAwait(false);   // an unknown protocol, or the peer gave up on it
                continue;
            }
            if (chosen == gateProtocol)
            {
                return stream;
            }
            served++;
            _ = ServeBeforeGateAsync(connection, stream, chosen);
        }
        throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, $"{PreGateStreamsMax} streams before the connection gate, none of them the gate");
    }

    /// <summary>Streams a connection may open before the gate passes (identify, ping, refused tries) at most.</summary>
    private const int PreGateStreamsMax = 16;

    private const string PlainPeer = "a plain libp2p peer: identify and ping answered, closed without the swarm gate";

    /// <summary>The refusal <see cref="AcceptGateStreamAsync"/> throws for a peer that only used identify and ping.</summary>
    private static bool IsPlainPeer(Exception e) => e is ProtocolException { Code: ProtocolErrorCode.GateRejected } p && p.Message.EndsWith(PlainPeer, StringComparison.Ordinal);

    /// <summary>Answers identify or ping on a connection still waiting for its gate; bounded by the handshake timeout.</summary>
    private async Task ServeBeforeGateAsync(PeerConnection connection, YamuxStream stream, string protocol)
    {
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
                deadline.CancelAfter(_options.HandshakeTimeout);
                if (protocol == PingProtocol.ProtocolId)
                {
                    await PingProtocol.ServeAsync(stream, deadline.Token).ConfigureAwait(false);
                    return;
                }
                var identify = BuildIdentify(connection) with { Protocols = [IdentifyMessage.ProtocolId, PingProtocol.ProtocolId] };
                await stream.WriteLengthPrefixedAsync(identify.Encode(), deadline.Token).ConfigureAwait(false);
                await stream.CloseWriteAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ProtocolException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                _log.LogDebug("{Protocol} before the gate with {Peer} ended: {Reason}", protocol, connection.RemotePeer, e.Message);
            }
        }
    }

    private void LogHandshakeFailure(Multiaddr remote, Exception e)
    {
        if (IsPlainPeer(e))
        {
            _log.LogInformation("{Remote} is {What}", remote, PlainPeer);
        }
        else if (e is ProtocolException { Code: ProtocolErrorCode.GateRejected, InnerException: ProtocolException { Code: ProtocolErrorCode.ConnectionClosed } })
        {
            _log.LogDebug("Handshake with {Remote} ended: {Reason}", remote, e.Message);   // a duplicate connection dropped by the peer
        }
        else if (e is ProtocolException { Code: ProtocolErrorCode.GateRejected, InnerException.Message: var reason } && reason.StartsWith("refused peer ", StringComparison.Ordinal))
        {
            _log.LogDebug("Handshake with {Remote} failed: {Reason}", remote, reason);   // the gate logged this refusal itself, with its reason
        }
        else if (e is ProtocolException p)
        {
            _log.LogWarning("Handshake with {Remote} failed ({Code}): {Reason}", remote, p.Code, p.Message);
        }
        else if (!_lifetime.IsCancellationRequested)
        {
            _log.LogInformation("Handshake with {Remote} failed: {Reason}", remote, e.Message);
        }
    }
}
