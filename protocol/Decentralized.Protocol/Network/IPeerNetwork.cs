using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Network;

/// <summary>
/// What the swarm logic needs from a peer-to-peer network: authenticated peers, one reused connection per peer, and
/// protocol-tagged duplex streams. Implemented by the libp2p TCP host and by the simulator's in-memory network.
/// Streams returned or handed to handlers implement <see cref="IHalfCloseable"/>.
/// </summary>
public interface IPeerNetwork : IAsyncDisposable
{
    /// <summary>Our own peer ID.</summary>
    PeerId LocalPeer { get; }

    /// <summary>Addresses we accept connections on (each ends in <c>/p2p/&lt;LocalPeer&gt;</c>).</summary>
    IReadOnlyList<Multiaddr> ListenAddresses { get; }

    /// <summary>Peers with at least one established connection.</summary>
    IReadOnlyCollection<PeerId> ConnectedPeers { get; }

    /// <summary>Raised when the first connection to a peer is established (after the connection gate).</summary>
    event Action<PeerId>? PeerConnected;

    /// <summary>Raised when the last connection to a peer closes.</summary>
    event Action<PeerId>? PeerDisconnected;

    /// <summary>
    /// Connects to <paramref name="address"/> (reusing an existing connection when its <c>/p2p/</c> peer is already
    /// connected) and returns the authenticated peer. A <c>/p2p/</c> ID that does not match the remote key fails with
    /// <see cref="ProtocolErrorCode.PeerIdMismatch"/>.
    /// </summary>
    Task<PeerId> DialAsync(Multiaddr address, CancellationToken cancellationToken);

    /// <summary>Opens a stream for <paramref name="protocolId"/>, dialing known addresses first if not connected.</summary>
    Task<Stream> OpenStreamAsync(PeerId peer, string protocolId, CancellationToken cancellationToken);

    /// <summary>
    /// Serves inbound streams of <paramref name="protocolId"/>. The handler owns the stream (it is disposed when the
    /// handler returns); its token is cancelled when the connection closes.
    /// </summary>
    void SetStreamHandler(string protocolId, Func<PeerId, Stream, CancellationToken, Task> handler);

    /// <summary>Remembers addresses for a peer (used by <see cref="OpenStreamAsync"/> when not connected).</summary>
    void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses);

    /// <summary>Traffic counters of the connections to <paramref name="peer"/>, or null if not connected.</summary>
    ConnectionStats? GetStats(PeerId peer);
}
