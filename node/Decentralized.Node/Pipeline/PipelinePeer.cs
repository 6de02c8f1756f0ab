using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Network;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// A pipeline-parallel peer (issue 7): serves one stage of the model, drives microbatches from its data shard when
/// it serves stage 0, forwards activations to a random live replica of the next stage and gradients back along the
/// same path, steps AdamW on its stage, runs NoLoCo outer rounds with the stage's other replicas (on the round engine), and rebuilds a
/// stage that lost all its replicas with CheckFree (or CheckFree+). Runs on any <see cref="IPeerNetwork"/> and
/// <see cref="TimeProvider"/>; never references sockets.
/// </summary>
public sealed partial class PipelinePeer : IAsyncDisposable
{
    private readonly IPeerNetwork _network;
    private readonly TimeProvider _time;
    private readonly PipelineOptions _options;
    private readonly ILogger _log;
    private readonly IBatchSource _data;
    private readonly PipelineDirectory _directory;
    private readonly string _configHash;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lossGate = new();
    private readonly List<PipelineLossPoint> _losses = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PeerId, byte> _greeting = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PeerId, byte> _bootstraps = new();
    private volatile StageWorker? _worker;
    private int _recovering;
    private long _microbatches;
    private long _dropped;
    private Task? _running;

    public PipelinePeer(IPeerNetwork network, TimeProvider time, PipelineOptions options, IBatchSource data, ILogger log)
    {
        _network = network;
        _time = time;
        _options = options.Validate();
        _data = data;
        _log = log;
        _directory = new PipelineDirectory(time, options);
        _configHash = options.SharedConfig;
        network.SetStreamHandler(PipelineProtocols.Hello, ServeHelloAsync);
        network.SetStreamHandler(PipelineProtocols.Hop, ServeHopAsync);
        network.SetStreamHandler(PipelineProtocols.Weights, ServeWeightsAsync);
        network.SetStreamHandler(PipelineProtocols.Outer, ServeOuterAsync);
    }

    public PeerId LocalPeer => _network.LocalPeer;

    /// <summary>The stage served now, or −1 while joining or moving.</summary>
    public int Stage => _worker?.Stage ?? -1;

    /// <summary>AdamW steps of the current stage worker.</summary>
    public long Steps => _worker?.Steps ?? 0;

    /// <summary>Outer rounds of the current stage worker.</summary>
    public long Round => _worker?.Round ?? 0;

    /// <summary>Microbatches this peer drove to completion, and those it dropped.</summary>
    public long CompletedMicrobatches => Interlocked.Read(ref _microbatches);
    public long DroppedMicrobatches => Interlocked.Read(ref _dropped);

    /// <summary>Raised when this peer takes up a stage (initially, by joining, or by a CheckFree rebuild).</summary>
    public event Action<PipelinePeer, StageRecovery>? StageTaken;

    /// <summary>A copy of the losses of the microbatches this peer drove.</summary>
    public IReadOnlyList<PipelineLossPoint> Losses()
    {
        lock (_lossGate) return _losses.ToArray();
    }

    /// <summary>The newest <paramref name="count"/> driver losses (cheap enough to call every few seconds).</summary>
    public IReadOnlyList<PipelineLossPoint> Losses(int count)
    {
        lock (_lossGate)
        {
            int start = Math.Max(0, _losses.Count - Math.Max(0, count));
            return _losses.GetRange(start, _losses.Count - start).ToArray();
        }
    }

    private void RecordLoss(PipelineLossPoint point)
    {
        lock (_lossGate)
        {
            _losses.Add(point);
            // Trimmed in halves so the copy is amortised over many microbatches instead of paid on each one.
            if (_losses.Count > _options.LossHistoryMax) _losses.RemoveRange(0, _losses.Count - _options.LossHistoryMax / 2);
        }
    }

    /// <summary>Remembers a bootstrap peer.</summary>
    public void AddBootstrap(Multiaddr address)
    {
        var peer = address.GetPeerId() ?? throw new ArgumentException("a bootstrap address needs its /p2p/ peer id");
        _network.AddAddresses(peer, [address]);
        _directory.AddAddresses(peer, [address]);
        _bootstraps.TryAdd(peer, 0);
    }

    /// <summary>Starts the heartbeat, stage assignment and (on stage 0) the microbatch driver.</summary>
    public void Start() => _running ??= Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken ct)
    {
        var heartbeats = HeartbeatLoopAsync(ct);
        var rounds = OuterLoopAsync(ct);
        try
        {
            await JoinAsync(ct);
            await DriveAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        await heartbeats;
        try { await rounds; }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private async Task HeartbeatLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // Greetings are not awaited as a batch: a peer whose dial hangs must not stretch the heartbeat period of
                // the others (their hellos would age past the timeout and their stage would look lost).
                foreach (var peer in _directory.Known())
                    if (peer != LocalPeer && _greeting.TryAdd(peer, 0)) _ = GreetAsync(peer, ct);
                _directory.Expire();
                if (_worker is not null) _ = MaintainAsync(ct);
                await Task.Delay(_options.HeartbeatInterval, _time, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) { _log.LogWarning("heartbeat round failed: {Reason}", e.Message); }
        }
    }

    private async Task GreetAsync(PeerId peer, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.PeerTimeout);
            await using var stream = await _network.OpenStreamAsync(peer, PipelineProtocols.Hello, timeout.Token);
            await PipelineWire.WriteAsync(stream, LocalHello(), timeout.Token);
            Absorb(peer, await PipelineWire.ReadAsync<PipelineHello>(stream, _options.ControlBytesMax, timeout.Token));
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogDebug("hello to {Peer} failed: {Reason}", peer, e.Message);
        }
        finally { _greeting.TryRemove(peer, out _); }
    }

    private async Task ServeHelloAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        try
        {
            var hello = await PipelineWire.ReadAsync<PipelineHello>(stream, _options.ControlBytesMax, ct);
            await PipelineWire.WriteAsync(stream, LocalHello(), ct);
            Absorb(peer, hello);
        }
        catch (PipelineProtocolException e) { _log.LogWarning("refused hello from {Peer}: {Reason}", peer, e.Message); }
    }

    private PipelineHello LocalHello()
    {
        var worker = _worker;
        var records = _directory.Live().Take(32).Select(m => new PipelinePeerRecord(m.Peer.ToByteArray(),
                _directory.AddressesOf(m.Peer).Select(a => a.ToBytes()).ToArray()))
            .Prepend(new PipelinePeerRecord(LocalPeer.ToByteArray(), _network.ListenAddresses.Select(a => a.ToBytes()).ToArray()))
            .ToArray();
        return new PipelineHello(_configHash, worker?.Stage ?? -1, worker?.Steps ?? 0, worker?.Round ?? 0,
            worker?.GradNormWeight ?? CheckFreeRecovery.NormEpsilon, records);
    }

    private void Absorb(PeerId from, PipelineHello hello)
    {
        if (hello.ConfigHash != _configHash)
        {
            _log.LogWarning("ignoring {Peer}: it trains another pipeline ({Hash})", from, hello.ConfigHash);
            return;
        }
        _directory.Absorb(from, hello);
        foreach (var record in (hello.Peers ?? []).Take(64))
        {
            PeerId peer;
            try { peer = PeerId.FromMultihash(record.PeerId); }
            catch (Exception) { continue; }   // a malformed record is skipped; the rest of the gossip counts
            if (peer == LocalPeer) continue;
            var addresses = (record.Addresses ?? []).Take(4).Select(TryAddress).OfType<Multiaddr>().ToArray();
            if (addresses.Length > 0 && _directory.AddAddresses(peer, addresses)) _network.AddAddresses(peer, addresses);
        }
    }

    private static Multiaddr? TryAddress(byte[] bytes)
    {
        try { return Multiaddr.FromBytes(bytes); }
        catch (Exception) { return null; }
    }

    /// <summary>Live peers by stage as this peer sees them, itself included (what assignment decisions use).</summary>
    private Dictionary<string, int> StageView()
    {
        var view = _directory.Live().Where(m => m.Stage >= 0).ToDictionary(m => m.Peer.ToString(), m => m.Stage);
        if (_worker is { } w) view[LocalPeer.ToString()] = w.Stage;
        return view;
    }

    /// <summary>Stops the loops and releases the stage (the network is the caller's).</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_running is not null)
        {
            try { await _running; } catch (Exception e) { _log.LogDebug("pipeline peer stopped: {Reason}", e.Message); }
        }
        _worker?.Dispose();
        _worker = null;
    }
}
