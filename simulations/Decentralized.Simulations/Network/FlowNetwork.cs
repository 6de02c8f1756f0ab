using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Network;

/// <summary>
/// The flow-level network model. Every message is a transfer that starts at once and shares its sender's uplink
/// and its receiver's downlink with every other transfer in progress, by max-min fairness (each transfer gets an
/// equal share of its tightest link, leftovers go to the others), as competing TCP flows roughly do. A message is
/// delivered one propagation delay (plus jitter, plus any retransmission) after its last byte left the sender.
/// Rates are recomputed whenever a transfer starts or ends, in one batched event per instant.
/// Not modelled: TCP slow start, router queues, asymmetric routes.
/// </summary>
public sealed partial class FlowNetwork
{
    private readonly SimulationScheduler _scheduler;
    private readonly DeterministicRandom _random;
    private readonly List<NodeState> _nodes = new();
    private readonly List<Flow> _active = new();
    private readonly Dictionary<object, Queue<NetworkMessage>> _ordered = new();
    // Hash sets and dictionaries here are only looked up, or sorted before use: their iteration order depends on
    // per-process hash seeds and must never decide the order of events.
    private readonly HashSet<NetworkMessage> _propagating = new();
    private readonly Dictionary<object, Queue<NetworkMessage>> _sendQueues = new();
    private TimeSpan _lastAdvance;
    private bool _reallocationQueued;
    private long _completionGeneration;
    private long _messageSequence;

    /// <summary>Creates an empty network on <paramref name="scheduler"/> drawing jitter and loss from <paramref name="random"/>.</summary>
    public FlowNetwork(SimulationScheduler scheduler, NetworkOptions options, DeterministicRandom random)
    {
        _scheduler = scheduler;
        Options = options.Validate();
        _random = random;
    }

    /// <summary>The model's knobs.</summary>
    public NetworkOptions Options { get; }

    /// <summary>Nodes added so far.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Messages delivered.</summary>
    public long MessagesDelivered { get; private set; }

    /// <summary>Messages lost to partitions and crashes.</summary>
    public long MessagesDropped { get; private set; }

    /// <summary>Wire bytes that completed transmission, over all nodes.</summary>
    public long BytesTransmitted { get; private set; }

    /// <summary>
    /// Adds a node whose deliveries run on <paramref name="host"/>; capacities default to <see cref="Options"/>.
    /// The node's access latency is drawn from <see cref="NetworkOptions.PeerLatencySpread"/>.
    /// </summary>
    public int AddNode(SimulatedHost? host, double? uplinkBitsPerSecond = null, double? downlinkBitsPerSecond = null)
    {
        double up = uplinkBitsPerSecond ?? Options.UplinkBitsPerSecond, down = downlinkBitsPerSecond ?? Options.DownlinkBitsPerSecond;
        if (!(up > 0) || !(down > 0)) throw new ArgumentException("link capacities must be positive");
        var access = Options.PeerLatencySpread > TimeSpan.Zero
            ? TimeSpan.FromTicks((long)(_random.NextDouble() * Options.PeerLatencySpread.Ticks))
            : TimeSpan.Zero;
        _nodes.Add(new NodeState(host, up / 8, down / 8, access));
        return _nodes.Count - 1;
    }

    /// <summary>Bytes node <paramref name="node"/> has finished sending.</summary>
    public long BytesSent(int node) => _nodes[node].BytesSent;

    /// <summary>Bytes node <paramref name="node"/> has received.</summary>
    public long BytesReceived(int node) => _nodes[node].BytesReceived;

    /// <summary>Changes a node's link capacities from now on (a peer on a worse line).</summary>
    public void SetCapacity(int node, double uplinkBitsPerSecond, double downlinkBitsPerSecond)
    {
        if (!(uplinkBitsPerSecond > 0) || !(downlinkBitsPerSecond > 0)) throw new ArgumentException("link capacities must be positive");
        AdvanceProgress();
        _nodes[node].UpBytesPerSecond = uplinkBitsPerSecond / 8;
        _nodes[node].DownBytesPerSecond = downlinkBitsPerSecond / 8;
        QueueReallocation();
    }

    /// <summary>One-way propagation delay between two nodes (without jitter).</summary>
    public TimeSpan LinkLatency(int a, int b) => Options.Latency + _nodes[a].AccessLatency + _nodes[b].AccessLatency;

    /// <summary>True when both nodes are up and on the same side of every partition.</summary>
    public bool CanReach(int a, int b) => _nodes[a].IsUp && _nodes[b].IsUp && _nodes[a].Group == _nodes[b].Group;

    /// <summary>Starts transmitting <paramref name="message"/> now.</summary>
    public void Send(NetworkMessage message)
    {
        if ((uint)message.From >= (uint)_nodes.Count || (uint)message.To >= (uint)_nodes.Count)
            throw new ArgumentOutOfRangeException(nameof(message), "unknown node");
        message.SentAt = _scheduler.Now;
        message.Sequence = _messageSequence++;
        if (message.OrderKey is { } key)
        {
            if (!_ordered.TryGetValue(key, out var queue)) _ordered[key] = queue = new Queue<NetworkMessage>();
            queue.Enqueue(message);
        }
        if (message.OrderKey is { } sendKey)
        {
            // One direction of one stream is a byte sequence: its messages leave the sender one after another.
            if (_sendQueues.TryGetValue(sendKey, out var waiting))
            {
                waiting.Enqueue(message);
                return;
            }
            _sendQueues[sendKey] = new Queue<NetworkMessage>();
        }
        StartTransmission(message);
    }

    private void StartTransmission(NetworkMessage message)
    {
        if (!CanReach(message.From, message.To))
        {
            Drop(message);
            return;
        }
        if (message.From == message.To || message.Bytes == 0)
        {
            Transmitted(message);
            return;
        }
        AdvanceProgress();
        _active.Add(new Flow(message, FlowCap(message)));
        QueueReallocation();
    }

    /// <summary>The stream's previous message left (or was lost): start its next one.</summary>
    private void ReleaseSendQueue(NetworkMessage message)
    {
        if (message.OrderKey is not { } key || !_sendQueues.TryGetValue(key, out var waiting)) return;
        if (waiting.Count == 0)
        {
            _sendQueues.Remove(key);
            return;
        }
        var next = waiting.Dequeue();
        _scheduler.Schedule(TimeSpan.Zero, null, () => StartTransmission(next));
    }

    /// <summary>
    /// Splits the nodes into groups that cannot reach each other (nodes not listed form one more group). Transfers
    /// and messages in flight across the new boundaries are lost.
    /// </summary>
    public void Partition(IEnumerable<IEnumerable<int>> groups)
    {
        foreach (var node in _nodes) node.Group = 0;
        int id = 1;
        foreach (var group in groups)
        {
            foreach (int n in group) _nodes[n].Group = id;
            id++;
        }
        DropUnreachable();
    }

    /// <summary>Removes every partition.</summary>
    public void Heal()
    {
        foreach (var node in _nodes) node.Group = 0;
    }

    /// <summary>Takes a node down (crash, departure) or brings it back; going down loses its transfers in flight.</summary>
    public void SetUp(int node, bool up)
    {
        _nodes[node].IsUp = up;
        if (!up) DropUnreachable();
    }

    /// <summary>Whether node <paramref name="node"/> is up.</summary>
    public bool IsUp(int node) => _nodes[node].IsUp;

    private void DropUnreachable()
    {
        AdvanceProgress();
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var m = _active[i].Message;
            if (CanReach(m.From, m.To)) continue;
            _active.RemoveAt(i);
            Drop(m);
        }
        foreach (var m in _propagating.Where(m => !CanReach(m.From, m.To)).OrderBy(m => m.Sequence).ToList())
        {
            _propagating.Remove(m);
            Drop(m);
        }
        QueueReallocation();
    }

    private void Drop(NetworkMessage message)
    {
        if (message.Dropped) return;
        message.Dropped = true;
        ReleaseSendQueue(message);
        MessagesDropped++;
        if (message.OnDropped is { } onDropped) _scheduler.Schedule(TimeSpan.Zero, _nodes[message.From].Host, onDropped);
        // A dropped message no longer holds back the ones behind it on its stream.
        message.Ready = true;
        if (message.OrderKey is not null) _scheduler.Schedule(TimeSpan.Zero, null, () => DrainOrdered(message.OrderKey));
    }

    /// <summary>Called when the last byte left the sender: schedule arrival after propagation, jitter and retransmissions.</summary>
    private void Transmitted(NetworkMessage message)
    {
        var from = _nodes[message.From];
        from.BytesSent += message.Bytes;
        ReleaseSendQueue(message);
        BytesTransmitted += message.Bytes;
        if (message.OnTransmitted is { } onTransmitted) _scheduler.Schedule(TimeSpan.Zero, from.Host, onTransmitted);
        var delay = message.From == message.To ? TimeSpan.Zero : LinkLatency(message.From, message.To) + JitterDelay() + RetransmissionDelay(message);
        _propagating.Add(message);
        _scheduler.Schedule(delay, null, () => Arrived(message));
    }

    private void Arrived(NetworkMessage message)
    {
        if (!_propagating.Remove(message) || message.Dropped) return;
        message.Ready = true;
        if (message.OrderKey is { } key) DrainOrdered(key);
        else Deliver(message);
    }

    private void DrainOrdered(object key)
    {
        if (!_ordered.TryGetValue(key, out var queue)) return;
        while (queue.Count > 0 && queue.Peek().Ready)
        {
            var head = queue.Dequeue();
            if (!head.Dropped) Deliver(head);
        }
        if (queue.Count == 0) _ordered.Remove(key);
    }

    private void Deliver(NetworkMessage message)
    {
        if (message.Finished) return;
        message.Finished = true;
        var to = _nodes[message.To];
        to.BytesReceived += message.Bytes;
        MessagesDelivered++;
        _scheduler.Schedule(TimeSpan.Zero, to.Host, message.OnDelivered);
    }

    private TimeSpan JitterDelay() =>
        Options.Jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)_random.NextExponential(Options.Jitter.Ticks)) : TimeSpan.Zero;

    /// <summary>
    /// TCP loses no data; a lost segment costs time. Losses per message are Poisson(segments·p); a short message
    /// (≤ 3 segments, too few for fast retransmit) pays a retransmission timeout, a longer one a round trip.
    /// </summary>
    private TimeSpan RetransmissionDelay(NetworkMessage message)
    {
        if (Options.LossRate <= 0) return TimeSpan.Zero;
        long segments = Math.Max(1, (message.Bytes + Options.SegmentBytes - 1) / Options.SegmentBytes);
        if (_random.NextPoisson(segments * Options.LossRate) == 0) return TimeSpan.Zero;
        var rtt = 2 * LinkLatency(message.From, message.To);
        return segments <= 3 ? (rtt * 2 > Options.MinRetransmitTimeout ? rtt * 2 : Options.MinRetransmitTimeout) : rtt;
    }

    /// <summary>The Mathis et al. (1997) throughput bound of one TCP flow under random loss, in bytes per second.</summary>
    private double FlowCap(NetworkMessage message)
    {
        if (Options.LossRate <= 0) return double.PositiveInfinity;
        double rtt = 2 * LinkLatency(message.From, message.To).TotalSeconds;
        if (rtt <= 0) return double.PositiveInfinity;
        return Options.SegmentBytes / (rtt * Math.Sqrt(2 * Options.LossRate / 3));
    }

    private sealed class NodeState(SimulatedHost? host, double up, double down, TimeSpan access)
    {
        public SimulatedHost? Host { get; } = host;
        public double UpBytesPerSecond { get; set; } = up;
        public double DownBytesPerSecond { get; set; } = down;
        public TimeSpan AccessLatency { get; } = access;
        public bool IsUp { get; set; } = true;
        public int Group { get; set; }
        public long BytesSent { get; set; }
        public long BytesReceived { get; set; }
    }

    private sealed class Flow(NetworkMessage message, double cap)
    {
        public NetworkMessage Message { get; } = message;
        public double Cap { get; } = cap;
        public double Remaining { get; set; } = message.Bytes;
        public double Rate { get; set; }
    }
}
