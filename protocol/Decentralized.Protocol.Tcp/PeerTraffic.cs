using Decentralized.Protocol.Identity;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// Everything exchanged with one peer since the host started, over open and closed connections alike: what a
/// report needs after a partner has left, when <see cref="Libp2pHost.GetStats"/> (open connections only) no longer
/// knows it.
/// </summary>
/// <param name="Peer">The remote peer.</param>
/// <param name="BytesReceived">Bytes read from the wire.</param>
/// <param name="BytesSent">Bytes written to the wire.</param>
/// <param name="RelayedBytes">Of the bytes received and sent, those that went through a relay.</param>
/// <param name="Connected">Whether a connection to the peer is open now.</param>
public sealed record PeerTraffic(PeerId Peer, long BytesReceived, long BytesSent, long RelayedBytes, bool Connected)
{
    /// <summary>Of the bytes received and sent, those that went over a direct connection.</summary>
    public long DirectBytes => BytesReceived + BytesSent - RelayedBytes;
}
