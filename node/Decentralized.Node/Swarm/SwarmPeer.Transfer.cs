using System.Collections.Concurrent;
using Decentralized.Node.Rounds;
using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Decentralized.Node.Swarm;

public sealed partial class SwarmPeer
{
    /// <summary>Tensor bytes are written and read in slices of this size, so a large update never needs a second copy in flight.</summary>
    private const int ChunkBytes = 1 << 20;

    /// <summary>An incoming update's buffer starts at this size and doubles as bytes arrive (see <see cref="ReadBlobAsync"/>).</summary>
    private const int FirstBlobBufferBytes = 64 * 1024;

    private readonly ConcurrentDictionary<PeerId, ResiliencePipeline> _pipelines = new();

    /// <summary>
    /// Per peer: the whole send is bounded by the round timeout; inside it up to two retries with seeded jitter;
    /// a peer whose sends keep failing trips a circuit breaker and is skipped for a while instead of costing
    /// every round its timeout.
    /// </summary>
    private ResiliencePipeline PipelineFor(PeerId peer) => _pipelines.GetOrAdd(peer, _ => new ResiliencePipelineBuilder { TimeProvider = _time }
        .AddTimeout(_options.RoundTimeout)
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = 2,
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException and not BrokenCircuitException),
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(TimeSpan.FromMilliseconds(200 * (1 << args.AttemptNumber) * (0.5 + NextJitter()))),
        })
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = 1.0,
            MinimumThroughput = 3,
            SamplingDuration = TimeSpan.FromMinutes(2),
            BreakDuration = TimeSpan.FromSeconds(30),
        })
        .Build());

    private double NextJitter()
    {
        lock (_random) return _random.NextDouble();
    }

    /// <summary>Sends our update to one partner; returns the bytes sent (0 if the partner could not be reached).</summary>
    private async Task<long> SendUpdateAsync(PeerId peer, UpdateHeader header, byte[] blob, CancellationToken ct)
    {
        try
        {
            return await PipelineFor(peer).ExecuteAsync(async token =>
            {
                await using var stream = await _network.OpenStreamAsync(peer, SwarmProtocols.Update, token);
                await MessageIo.WriteAsync(stream, header, token);
                for (int offset = 0; offset < blob.Length; offset += ChunkBytes)
                    await stream.WriteAsync(blob.AsMemory(offset, Math.Min(ChunkBytes, blob.Length - offset)), token);
                await stream.FlushAsync(token);
                var ack = new byte[1];
                await stream.ReadExactlyAsync(ack, token);
                if (ack[0] != 1) _log.LogInformation("{Peer} declined our update for round {Round}", peer, header.Round);
                Stats.AddSent(blob.Length);
                return (long)blob.Length;
            }, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _log.LogWarning("could not send round {Round} update to {Peer}: {Reason}", header.Round, peer, e.Message);
            return 0;
        }
    }

    /// <summary>
    /// Receives a partner's update. Checked before it is read: the round window and the declared size against the
    /// largest update this model can have (before allocating); memory then grows only with the bytes that arrived and
    /// the whole exchange must finish within the round timeout, so a peer that sends headers and then nothing costs a
    /// few bytes per stream until the deadline drops it. Then the engine decodes it (shape and finiteness) and keeps
    /// it. A bad update is dropped with the reason logged and counted; the connection and our training go on.
    /// </summary>
    private async Task ServeUpdateAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        using var deadline = new Deadline(_time, _options.RoundTimeout, ct);
        try
        {
            await ReceiveUpdateAsync(peer, stream, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.Token.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            Stats.AddRejected();
            _log.LogWarning("dropped an update stream from {Peer}: not complete within the round timeout ({Timeout})", peer, _options.RoundTimeout);
            throw;
        }
    }

    private async Task ReceiveUpdateAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var header = await MessageIo.ReadAsync<UpdateHeader>(stream, _options.ControlMessageBytesMax, ct);
        // The warm-up's gradients go to its own engine, counted in inner steps; everything else to the outer rounds'.
        var engine = header.Kind == Payload.Gradient && _warmup is not null ? _warmup : _engine;
        long now = engine == _warmup ? _warmup.Round : Round;
        // With overlap our exchange of round r is still open while we already count round r + 1.
        long oldest = _options.Overlap && engine == _engine ? now - 1 : now;
        if (header.Round < oldest || header.Round > now + 2)
        {
            // Late (we already closed that round) or far ahead: not an attack, just not usable.
            _log.LogInformation("ignored {Peer}'s update for round {Round}: we are in round {Now}", peer, header.Round, now);
            await stream.WriteAsync(new byte[] { 0 }, ct);
            return;
        }
        long limit = UpdateBytesMax(header.Kind);
        string? refusal =
            !Enum.IsDefined(header.Kind) ? $"unknown payload {(int)header.Kind}"
            : header.BlobBytes <= 0 || header.BlobBytes > limit ? $"declared size {header.BlobBytes} exceeds the limit {limit} (the largest {header.Kind} update of this model)"
            : null;
        if (refusal is null)
        {
            var blob = await ReadBlobAsync(peer, stream, (int)header.BlobBytes, ct);
            Stats.AddReceived(blob.Length);
            UpdateAnswer answer;
            lock (_outerLock) answer = engine.OnUpdate(peer.ToString(), header.Round, header.Kind, blob);
            if (answer.Verdict == UpdateVerdict.Accepted)
            {
                if (answer.Returned) _log.LogInformation("peer {Peer} answers again: back in our pairing", peer);
                if (Misbehave?.Echoes == true && engine == _engine) _ = SendUpdateAsync(peer, header, blob, _lifetime.Token);
                WakeRound();
                await stream.WriteAsync(new byte[] { 1 }, ct);
                return;
            }
            if (answer.Verdict == UpdateVerdict.Ignored)
            {
                _log.LogInformation("ignored {Peer}'s update for round {Round}: {Reason}", peer, header.Round, answer.Reason);
                await stream.WriteAsync(new byte[] { 0 }, ct);
                return;
            }
            refusal = answer.Reason;
        }
        else
        {
            lock (_outerLock) _engine.OnRefused(peer.ToString(), header.Round, refusal);
        }
        // A refused update is still that peer's answer for the round: wake the round so it stops waiting for it.
        WakeRound();
        Stats.AddRejected();
        _log.LogWarning("rejected update from {Peer}: {Reason}", peer, refusal);
        await stream.WriteAsync(new byte[] { 0 }, ct);
    }

    /// <summary>Lets <see cref="WaitUntilReadyAsync"/> tick the engine again now: an update arrived.</summary>
    private void WakeRound()
    {
        var arrived = Interlocked.Exchange(ref _arrival, new TaskCompletionSource());
        Post(() => arrived.TrySetResult());
    }

    /// <summary>
    /// Reads exactly <paramref name="declared"/> bytes into a buffer that starts small and doubles as data arrives:
    /// what a peer makes us hold is at most twice what it actually sent, never what it merely declared.
    /// </summary>
    private static async Task<byte[]> ReadBlobAsync(PeerId peer, Stream stream, int declared, CancellationToken ct)
    {
        var blob = new byte[Math.Min(declared, FirstBlobBufferBytes)];
        int offset = 0;
        while (offset < declared)
        {
            if (offset == blob.Length) Array.Resize(ref blob, (int)Math.Min(declared, 2L * blob.Length));
            int read = await stream.ReadAsync(blob.AsMemory(offset, Math.Min(ChunkBytes, blob.Length - offset)), ct);
            if (read == 0) throw new SwarmProtocolException($"update from {peer} ended after {offset} of {declared} bytes");
            offset += read;
        }
        return blob;
    }

    /// <summary>The largest blob of <paramref name="kind"/> we accept: the configured limit, or less when no codec chain can produce that much for this model.</summary>
    private long UpdateBytesMax(Payload kind) => Math.Min(_options.UpdateBytesMax, ChainUpdateCodec.BlobBytesMax(Trainer.Flat, kind));

    /// <summary>
    /// Runs <paramref name="action"/> soon on the time provider's timer: the round waiter woken by it then continues
    /// there instead of on the thread that received the update (which still has to acknowledge it). On the daemon that
    /// is a thread-pool thread; in the simulator it is an event on the virtual clock, so the run stays single-threaded.
    /// </summary>
    private void Post(Action action)
    {
        // Rooted by the provider while scheduled; disposed once it fired.
        ITimer? timer = null;
        timer = _time.CreateTimer(_ =>
        {
            action();
            timer?.Dispose();
        }, null, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }
}
