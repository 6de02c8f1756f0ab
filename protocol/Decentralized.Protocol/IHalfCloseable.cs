namespace Decentralized.Protocol;

/// <summary>
/// A duplex stream that can finish its sending direction while still reading (libp2p half-close, Yamux FIN).
/// Streams returned by <c>IPeerNetwork.OpenStreamAsync</c> implement it; use
/// <see cref="StreamExtensions.CloseWriteAsync(Stream, CancellationToken)"/> to call it on a plain <see cref="Stream"/>.
/// </summary>
public interface IHalfCloseable
{
    /// <summary>Signals end-of-data to the peer; reads continue until the peer finishes too.</summary>
    ValueTask CloseWriteAsync(CancellationToken cancellationToken = default);
}
