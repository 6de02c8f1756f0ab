using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;

namespace Decentralized.Cli;

/// <summary>
/// Watches the joiners this node serves training state to, for the status page and /metrics, without touching the
/// swarm logic: it wraps the network the <c>SwarmPeer</c> registers its handlers on and times every inbound stream of
/// a state protocol (any protocol id containing <c>/state</c>, so chunked variants are covered too), counting the
/// bytes written to the joiner. Everything else passes straight through. Keeps the last <see cref="FinishedMax"/>
/// finished transfers.
/// </summary>
public sealed class StateServingMonitor(IPeerNetwork inner, TimeProvider time) : IPeerNetwork
{
    public const int FinishedMax = 16;

    private readonly object _lock = new();
    private readonly List<Transfer> _active = new();
    private readonly Queue<Transfer> _finished = new();

    /// <summary>One joiner being (or having been) served.</summary>
    public sealed class Transfer(string peer, string protocol, DateTimeOffset started)
    {
        private long _bytes;
        public string Peer { get; } = peer;
        public string Protocol { get; } = protocol;
        public DateTimeOffset Started { get; } = started;
        public DateTimeOffset? Finished { get; set; }
        /// <summary>The transfer ended with an exception (the joiner dropped the stream, or the connection died) rather than a clean close.</summary>
        public bool Failed { get; set; }
        public long Bytes => Interlocked.Read(ref _bytes);
        public void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);
    }

    public IReadOnlyList<Transfer> Active { get { lock (_lock) return _active.ToArray(); } }
    public IReadOnlyList<Transfer> Finished { get { lock (_lock) return _finished.Reverse().ToArray(); } }

    public static bool IsStateProtocol(string protocolId) => protocolId.Contains("/state", StringComparison.Ordinal);

    public void SetStreamHandler(string protocolId, Func<PeerId, Stream, CancellationToken, Task> handler)
    {
        if (!IsStateProtocol(protocolId)) { inner.SetStreamHandler(protocolId, handler); return; }
        inner.SetStreamHandler(protocolId, async (peer, stream, ct) =>
        {
            var transfer = new Transfer(peer.ToString(), protocolId, time.GetUtcNow());
            lock (_lock) _active.Add(transfer);
            try { await handler(peer, new CountingWriteStream(stream, transfer.Add), ct); }
            catch (Exception) { transfer.Failed = true; throw; }
            finally
            {
                transfer.Finished = time.GetUtcNow();
                lock (_lock)
                {
                    _active.Remove(transfer);
                    _finished.Enqueue(transfer);
                    while (_finished.Count > FinishedMax) _finished.Dequeue();
                }
            }
        });
    }

    public PeerId LocalPeer => inner.LocalPeer;
    public IReadOnlyList<Multiaddr> ListenAddresses => inner.ListenAddresses;
    public IReadOnlyCollection<PeerId> ConnectedPeers => inner.ConnectedPeers;

    public event Action<PeerId>? PeerConnected
    {
        add => inner.PeerConnected += value;
        remove => inner.PeerConnected -= value;
    }

    public event Action<PeerId>? PeerDisconnected
    {
        add => inner.PeerDisconnected += value;
        remove => inner.PeerDisconnected -= value;
    }

    public Task<PeerId> DialAsync(Multiaddr address, CancellationToken cancellationToken) => inner.DialAsync(address, cancellationToken);
    public Task<Stream> OpenStreamAsync(PeerId peer, string protocolId, CancellationToken cancellationToken) => inner.OpenStreamAsync(peer, protocolId, cancellationToken);
    public void AddAddresses(PeerId peer, IEnumerable<Multiaddr> addresses) => inner.AddAddresses(peer, addresses);
    public ConnectionStats? GetStats(PeerId peer) => inner.GetStats(peer);

    /// <summary>The host owns the network's lifetime; the monitor only forwards.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
