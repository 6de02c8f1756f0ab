using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Yamux;

namespace Decentralized.Protocol.Tcp;

/// <summary>One established, authenticated and multiplexed connection to a peer.</summary>
internal sealed class PeerConnection
{
    private static long s_nextId;

    private readonly Dictionary<string, int> _inboundPerProtocol = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closed = new();

    public PeerConnection(PeerId remotePeer, Multiaddr remoteAddress, bool isInitiator, YamuxSession session, CountingStream counter, bool isRelayed = false)
    {
        IsRelayed = isRelayed;
        RemotePeer = remotePeer;
        RemoteAddress = remoteAddress;
        IsInitiator = isInitiator;
        Session = session;
        Counter = counter;
        Id = Interlocked.Increment(ref s_nextId);
    }

    public long Id { get; }
    public PeerId RemotePeer { get; }
    public Multiaddr RemoteAddress { get; }
    public bool IsInitiator { get; }

    /// <summary>True if this connection runs through a circuit relay (its transport is a relay stream).</summary>
    public bool IsRelayed { get; }
    public YamuxSession Session { get; }
    public CountingStream Counter { get; }
    public IdentifyMessage? Identify { get; set; }

    /// <summary>
    /// Completes when our identify request on this connection has ended, answered or not (or the connection closed):
    /// what needs the peer's protocols right after a dial (the reachability check) waits on it.
    /// </summary>
    public Task IdentifyEnded => _identifyEnded.Task;

    private readonly TaskCompletionSource _identifyEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void MarkIdentifyEnded() => _identifyEnded.TrySetResult();

    /// <summary>Cancelled when the connection closes; handlers observe it.</summary>
    public CancellationToken Closed => _closed.Token;

    public bool TryEnterProtocol(string protocol, int limit)
    {
        lock (_inboundPerProtocol)
        {
            _inboundPerProtocol.TryGetValue(protocol, out var count);
            if (count >= limit)
            {
                return false;
            }
            _inboundPerProtocol[protocol] = count + 1;
            return true;
        }
    }

    public void ExitProtocol(string protocol)
    {
        lock (_inboundPerProtocol)
        {
            if (_inboundPerProtocol.TryGetValue(protocol, out var count))
            {
                _inboundPerProtocol[protocol] = count - 1;
            }
        }
    }

    public void MarkClosed()
    {
        MarkIdentifyEnded();
        try
        {
            _closed.Cancel();
        }
        catch (AggregateException)
        {
            // A handler's cancellation callback threw; the connection is closed regardless.
        }
    }

    public override string ToString() => $"#{Id} {RemotePeer} via {RemoteAddress} ({(IsInitiator ? "out" : "in")}{(IsRelayed ? ", relayed" : "")})";
}
