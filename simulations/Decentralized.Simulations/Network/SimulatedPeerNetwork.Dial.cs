using Decentralized.Protocol;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;

namespace Decentralized.Simulations.Network;

public sealed partial class SimulatedPeerNetwork
{
    /// <inheritdoc />
    public async Task<PeerId> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfStopped();
        var connection = await ConnectAsync(address, cancellationToken);
        return connection.End(1 - connection.SideOf(this)).LocalPeer;
    }

    /// <inheritdoc />
    public async Task<Stream> OpenStreamAsync(PeerId peer, string protocolId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        ThrowIfStopped();
        if (!_connections.TryGetValue(peer, out var connection))
            connection = await ConnectToKnownAsync(peer, cancellationToken);
        return await NegotiateAsync(connection, protocolId, cancellationToken);
    }

    private async Task<SimulatedConnection> ConnectToKnownAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (!_addressBook.TryGetValue(peer, out var addresses) || addresses.Count == 0)
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"no address known for {peer}");
        ProtocolException? last = null;
        foreach (var address in addresses.ToArray())
        {
            try
            {
                return await ConnectAsync(address.GetPeerId() is null ? address.WithPeerId(peer) : address, cancellationToken);
            }
            catch (ProtocolException e)
            {
                last = e;
            }
        }
        throw new ProtocolException(ProtocolErrorCode.DialFailed, $"all addresses of {peer} failed: {last?.Message}", last);
    }

    private async Task<SimulatedConnection> ConnectAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        var expected = address.GetPeerId();
        if (expected is not null && _connections.TryGetValue(expected, out var existing)) return existing;
        var target = _network.Resolve(address.WithoutPeerId());
        if (target is not null && _connections.TryGetValue(target.LocalPeer, out existing)) return existing;
        if (target is not null && _dialing.TryGetValue(target.LocalPeer, out var inProgress)) return await inProgress;
        var dial = DialCoreAsync(address, target, expected, cancellationToken);
        if (target is not null) _dialing[target.LocalPeer] = dial;
        try
        {
            return await dial;
        }
        finally
        {
            if (target is not null) _dialing.Remove(target.LocalPeer);
        }
    }

    /// <summary>
    /// Unreachable targets (none at the address, crashed, partitioned) fail after the dial timeout, as a TCP SYN that
    /// is never answered; reachable ones cost <see cref="NetworkOptions.DialRoundTrips"/> round trips.
    /// </summary>
    private async Task<SimulatedConnection> DialCoreAsync(Multiaddr address, SimulatedPeerNetwork? target, PeerId? expected, CancellationToken cancellationToken)
    {
        var options = _network.Options;
        if (target is null || !target.IsRunning || !_network.Flow.CanReach(Node, target.Node))
        {
            await Task.Delay(options.DialTimeout, Host.Time, cancellationToken);
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"dial to {address} timed out after {options.DialTimeout.TotalSeconds:0.#} s");
        }
        var rtt = 2 * _network.Flow.LinkLatency(Node, target.Node);
        await Task.Delay(rtt * options.DialRoundTrips, Host.Time, cancellationToken);
        ThrowIfStopped();
        if (!target.IsRunning || !_network.Flow.CanReach(Node, target.Node))
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"connection to {address} was lost during the handshake");
        if (expected is not null && expected != target.LocalPeer)
            throw new ProtocolException(ProtocolErrorCode.PeerIdMismatch, $"dialed {expected} but {address.WithoutPeerId()} is {target.LocalPeer}");
        // The other side may have dialed us meanwhile: keep one connection per pair.
        if (_connections.TryGetValue(target.LocalPeer, out var raced)) return raced;
        var connection = new SimulatedConnection(_network, this, target);
        OnConnectionOpened(connection);
        target.Host.Schedule(TimeSpan.Zero, () =>
        {
            if (target.IsRunning && connection.IsOpen) target.OnConnectionOpened(connection);
        });
        return connection;
    }

    /// <summary>
    /// Opens a stream: SYN plus the multistream-select proposal out, the remote's answer back (one round trip).
    /// The remote starts its handler when the proposal arrives.
    /// </summary>
    private async Task<Stream> NegotiateAsync(SimulatedConnection connection, string protocolId, CancellationToken cancellationToken)
    {
        int side = connection.SideOf(this);
        var remotePeer = connection.End(1 - side);
        var local = new SimulatedStream(connection, side, protocolId);
        var remote = new SimulatedStream(connection, 1 - side, protocolId) { Remote = local };
        local.Remote = remote;
        connection.Track(side, local);
        var answer = new TaskCompletionSource<bool>();
        var order = new object();
        int proposalBytes = 20 + protocolId.Length + 2;   // "/multistream/1.0.0\n" plus the protocol line
        connection.Send(side, WireOverhead.Control(proposalBytes), order, () =>
        {
            bool accepted = connection.IsOpen && remotePeer.TryAccept(connection, remote);
            connection.Send(1 - side, WireOverhead.Control(accepted ? proposalBytes : proposalBytes - protocolId.Length + 3), order,
                () => answer.TrySetResult(accepted), onTransmitted: null);
        }, onTransmitted: null);
        using var cancel = cancellationToken.Register(() => answer.TrySetCanceled(cancellationToken));
        using var closed = connection.ClosingToken(side).Register(() =>
            answer.TrySetException(new ProtocolException(ProtocolErrorCode.ConnectionClosed, "the connection closed while opening a stream")));
        bool ok;
        try
        {
            ok = await answer.Task;
        }
        catch
        {
            local.Reset();
            throw;
        }
        if (!ok)
        {
            local.Dispose();
            throw new ProtocolException(ProtocolErrorCode.ProtocolNotSupported, $"{remotePeer.LocalPeer} does not support {protocolId}");
        }
        return local;
    }

    private void ThrowIfStopped()
    {
        if (!IsRunning) throw new ProtocolException(ProtocolErrorCode.ConnectionClosed, "this peer has left the network");
    }
}
