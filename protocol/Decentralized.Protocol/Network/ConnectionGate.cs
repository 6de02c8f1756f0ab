using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Network;

/// <summary>
/// Runs right after the secure channel and muxer are up, on a dedicated first stream, before any application stream
/// is accepted (e.g. a swarm-key proof or a version handshake). Throwing rejects the peer: the connection is closed
/// and the exception's message is logged as the reason.
/// </summary>
/// <param name="remotePeer">The authenticated remote peer.</param>
/// <param name="stream">The gate stream (both sides exchange whatever they need on it).</param>
/// <param name="isInitiator">True on the side that dialed.</param>
/// <param name="cancellationToken">Cancelled when the handshake timeout expires.</param>
public delegate Task ConnectionGate(PeerId remotePeer, Stream stream, bool isInitiator, CancellationToken cancellationToken);
