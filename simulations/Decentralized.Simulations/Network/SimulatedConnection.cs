using Decentralized.Protocol;
using Decentralized.Protocol.Network;

namespace Decentralized.Simulations.Network;

/// <summary>
/// A simulated secure, multiplexed connection between two peers (what TCP + Noise + Yamux give the real host).
/// Side 0 dialed, side 1 accepted. Each side counts the wire bytes it sent and received; a reset fails every
/// stream of a side and cancels its handlers' tokens.
/// </summary>
public sealed class SimulatedConnection
{
    private readonly SimulatedPeerNetwork[] _ends;
    // Lists, not hash sets: a reset fails the streams in creation order, the same in every run.
    private readonly List<SimulatedStream>[] _streams = { new(), new() };
    private readonly CancellationTokenSource[] _closing = { new(), new() };
    private readonly long[] _sent = new long[2], _received = new long[2];
    private readonly bool[] _closed = new bool[2];

    internal SimulatedConnection(SimulatedNetwork network, SimulatedPeerNetwork dialer, SimulatedPeerNetwork listener)
    {
        Network = network;
        Id = network.NextConnectionId();
        _ends = new[] { dialer, listener };
    }

    internal SimulatedNetwork Network { get; }

    /// <summary>Creation order in the network (deterministic iteration).</summary>
    public long Id { get; }

    /// <summary>The peer on side <paramref name="side"/> (0: dialer, 1: listener).</summary>
    public SimulatedPeerNetwork End(int side) => _ends[side];

    /// <summary>True until either side saw the connection close.</summary>
    public bool IsOpen => !_closed[0] && !_closed[1];

    internal int MaxMessageBytes => Network.Options.MaxMessageBytes;

    internal int SideOf(SimulatedPeerNetwork peer) => ReferenceEquals(_ends[0], peer) ? 0 : 1;

    internal CancellationToken ClosingToken(int side) => _closing[side].Token;

    internal bool IsClosed(int side) => _closed[side];

    /// <summary>This side's traffic counters as the IPeerNetwork reports them.</summary>
    internal ConnectionStats Stats(int side) =>
        new(_received[side], _sent[side], IsRelayed: false,
            RoundTripTime: 2 * Network.Flow.LinkLatency(_ends[0].Node, _ends[1].Node), ConnectionCount: 1);

    internal void Track(int side, SimulatedStream stream)
    {
        if (!_streams[side].Contains(stream)) _streams[side].Add(stream);
    }

    internal void Forget(SimulatedStream stream)
    {
        _streams[0].Remove(stream);
        _streams[1].Remove(stream);
    }

    /// <summary>Puts <paramref name="wireBytes"/> on the wire from side <paramref name="fromSide"/>; delivery runs on the other side's host.</summary>
    internal void Send(int fromSide, long wireBytes, object orderKey, Action onDelivered, Action? onTransmitted)
    {
        if (_closed[fromSide]) return;
        int toSide = 1 - fromSide;
        var message = new NetworkMessage(_ends[fromSide].Node, _ends[toSide].Node, wireBytes, () =>
        {
            if (_closed[toSide]) return;
            _received[toSide] += wireBytes;
            onDelivered();
        })
        {
            OrderKey = orderKey,
            OnTransmitted = () =>
            {
                _sent[fromSide] += wireBytes;
                onTransmitted?.Invoke();
            },
        };
        Network.Flow.Send(message);
    }

    /// <summary>Closes side <paramref name="side"/> now: its streams fail, its handlers are cancelled, its peer forgets the connection.</summary>
    internal void CloseSide(int side, string reason)
    {
        if (_closed[side]) return;
        _closed[side] = true;
        var error = new ProtocolException(ProtocolErrorCode.ConnectionClosed, reason);
        foreach (var stream in _streams[side].ToArray()) stream.Fail(error);
        _streams[side].Clear();
        _closing[side].Cancel();
        _ends[side].OnConnectionClosed(this);
    }

    /// <summary>Schedules each side's close on its own host after the given delays (null: that side is not told, e.g. it crashed).</summary>
    internal void Break(string reason, TimeSpan? dialerDelay, TimeSpan? listenerDelay)
    {
        if (dialerDelay is { } d0) _ends[0].Host.Schedule(d0, () => CloseSide(0, reason));
        if (listenerDelay is { } d1) _ends[1].Host.Schedule(d1, () => CloseSide(1, reason));
    }
}
