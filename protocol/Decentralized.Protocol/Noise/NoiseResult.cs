using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Noise;

/// <summary>Outcome of a Noise handshake: the authenticated remote and the encrypted stream.</summary>
/// <param name="RemotePeer">The remote peer ID, derived from its verified identity key.</param>
/// <param name="RemoteKey">The remote identity key.</param>
/// <param name="Stream">The encrypted transport; owns the raw stream.</param>
/// <param name="RemoteMuxers">Muxers the remote listed for early negotiation (empty if none).</param>
public sealed record NoiseResult(PeerId RemotePeer, PublicKey RemoteKey, NoiseSecureStream Stream, IReadOnlyList<string> RemoteMuxers);
