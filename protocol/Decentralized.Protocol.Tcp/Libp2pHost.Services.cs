using System.Security.Cryptography;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Ping;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tcp;

public sealed partial class Libp2pHost
{
    private const string IdentifyProtocolVersion = "ipfs/0.1.0";

    /// <summary>The latest identify information received from <paramref name="peer"/>, if connected and identified.</summary>
    public IdentifyMessage? GetIdentify(PeerId peer)
    {
        lock (_connectionsLock)
        {
            return _connections.TryGetValue(peer, out var list) ? list.Select(c => c.Identify).FirstOrDefault(i => i is not null) : null;
        }
    }

    /// <summary>Runs <c>/ipfs/ping/1.0.0</c> once and returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(PeerId peer, CancellationToken cancellationToken)
    {
        var stream = await OpenStreamAsync(peer, PingProtocol.ProtocolId, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var payload = RandomNumberGenerator.GetBytes(PingProtocol.PayloadSize);
            var started = _time.GetTimestamp();
            await PingProtocol.PingOnceAsync(stream, payload, cancellationToken).ConfigureAwait(false);
            var rtt = _time.GetElapsedTime(started);
            await stream.CloseWriteAsync(cancellationToken).ConfigureAwait(false);
            return rtt;
        }
    }

    private IdentifyMessage BuildIdentify(PeerConnection connection) => new()
    {
        ProtocolVersion = IdentifyProtocolVersion,
        AgentVersion = _options.AgentVersion,
        PublicKey = _options.Identity.PublicKey,
        ListenAddresses = [.. ListenAddresses.Select(a => a.WithoutPeerId())],
        ObservedAddress = connection.RemoteAddress,
        Protocols = _handlerProtocols,
    };

    private async Task ServeIdentifyAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var connection = FindConnection(peer, stream);
        if (connection is null)
        {
            return;
        }
        await stream.WriteLengthPrefixedAsync(BuildIdentify(connection).Encode(), ct).ConfigureAwait(false);
        await stream.CloseWriteAsync(ct).ConfigureAwait(false);
    }

    private async Task ServeIdentifyPushAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var connection = FindConnection(peer, stream);
        if (connection is not null)
        {
            await ReadIdentifyAsync(connection, stream, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Asks the peer who it is (js does the same on every new connection, with a 5 s timeout).</summary>
    private async Task IdentifyAsync(PeerConnection connection)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed);
            using var timer = _time.CreateTimer(_ => deadline.Cancel(), null, _options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
            var stream = connection.Session.OpenStream();
            await using (stream.ConfigureAwait(false))
            {
                await Multistream.MultistreamSelect.SelectAsync(stream, [IdentifyMessage.ProtocolId], deadline.Token, _options.MaxMultistreamMessageBytes)
                    .ConfigureAwait(false);
                await stream.CloseWriteAsync(deadline.Token).ConfigureAwait(false);
                await ReadIdentifyAsync(connection, stream, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _log.LogDebug("Identify of {Connection} failed: {Reason}", connection, e.Message);
        }
        finally
        {
            connection.MarkIdentifyEnded();
        }
    }

    private async Task ReadIdentifyAsync(PeerConnection connection, Stream stream, CancellationToken ct)
    {
        var merged = connection.Identify;
        for (var i = 0; i < IdentifyMessage.MaxMessagesPerStream; i++)
        {
            var bytes = await stream.ReadLengthPrefixedAsync(IdentifyMessage.MaxMessageBytes, ct).ConfigureAwait(false);
            if (bytes is null)
            {
                break;
            }
            var message = IdentifyMessage.Decode(bytes);
            if (message.PublicKey is not null && !connection.RemotePeer.Matches(message.PublicKey))
            {
                throw new ProtocolException(ProtocolErrorCode.PeerIdMismatch, "identify carries a key that is not the connection's peer");
            }
            merged = merged is null ? message : merged.Merge(message);
        }
        if (merged is null)
        {
            return;
        }
        connection.Identify = merged;
        AddAddressesCore(connection.RemotePeer, merged.ListenAddresses, explicitAdd: false);
        OnPeerIdentified(connection);
        try
        {
            PeerIdentified?.Invoke(connection.RemotePeer, merged);
        }
        catch (Exception e)
        {
            _log.LogError(e, "PeerIdentified handler failed for {Peer}", connection.RemotePeer);
        }
    }

    private PeerConnection? FindConnection(PeerId peer, Stream stream)
    {
        lock (_connectionsLock)
        {
            if (!_connections.TryGetValue(peer, out var list))
            {
                return null;
            }
            // Handlers get the Yamux stream itself; match it to its session to find the right connection.
            return list.FirstOrDefault(c => stream is Yamux.YamuxStream y && c.Session.Owns(y)) ?? list.FirstOrDefault();
        }
    }
}
