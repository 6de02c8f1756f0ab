using Decentralized.Protocol.Identity;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Pipeline;

public sealed partial class PipelinePeer
{
    /// <summary>While this peer serves stage 0: sample a microbatch, run it through the pipeline, record its loss. Never waits on a lost stage: a failed microbatch is counted as dropped.</summary>
    private async Task DriveAsync(CancellationToken ct)
    {
        int b = _options.Inner.MicroBatchSize, t = _options.Inner.SequenceLength;
        var buffer = new long[b * (t + 1)];
        long salt = (long)(MicrobatchRoute.Unit(_options.Seed, LocalPeer.GetHashCode()) * (1L << 20));
        long counter = 0;
        while (!ct.IsCancellationRequested)
        {
            if (_worker is not { IsFirst: true })
            {
                await Task.Delay(_options.HeartbeatInterval, _time, ct);
                continue;
            }
            long microbatch = (salt << 40) | counter++;
            bool swapped = _options.CheckFreePlus && MicrobatchRoute.IsSwapped(_options.SwapShare, _options.Seed, microbatch);
            _data.Next(buffer);
            var (tokens, targets) = Split(buffer, b, t);
            try
            {
                var result = await RunHopAsync(new HopTask(microbatch, swapped, 0, b, t, targets, tokens, null), ct);
                Interlocked.Increment(ref _microbatches);
                RecordLoss(new PipelineLossPoint(_time.GetUtcNow(), microbatch, swapped, result.Loss));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _dropped);
                _log.LogDebug("microbatch {Microbatch} dropped: {Reason}", microbatch, e.Message);
                await Task.Delay(_options.HeartbeatInterval / 2, _time, ct);
            }
        }
    }

    private static (long[] Tokens, long[] Targets) Split(long[] buffer, int b, int t)
    {
        var tokens = new long[b * t];
        var targets = new long[b * t];
        for (int row = 0; row < b; row++)
        {
            Array.Copy(buffer, row * (t + 1), tokens, row * t, t);           // x = tokens[0 .. T)
            Array.Copy(buffer, row * (t + 1) + 1, targets, row * t, t);      // y = tokens[1 .. T]
        }
        return (tokens, targets);
    }

    /// <summary>
    /// Runs hop <see cref="HopTask.Hop"/> here: forward, then (unless it is the last hop) the rest of the route on a
    /// random live replica of the next stage, then backward with the gradient that came back.
    /// </summary>
    private async Task<HopResult> RunHopAsync(HopTask task, CancellationToken ct)
    {
        var worker = _worker ?? throw new PipelineProtocolException(PipelineErrorCode.Unavailable, "not serving a stage");
        var hops = MicrobatchRoute.Hops(_options.StageCount, task.Swapped, task.Microbatch);
        if (task.Hop < 0 || task.Hop >= hops.Length || hops[task.Hop].Stage != worker.Stage)
            throw new PipelineProtocolException(PipelineErrorCode.BadRoute, $"hop {task.Hop} of microbatch {task.Microbatch} is not for stage {worker.Stage}");
        var parts = hops[task.Hop].Parts;
        if (task.Hop == hops.Length - 1)
        {
            var (loss, grad) = worker.LossBackward(parts, task.Tokens, task.Input, task.Targets, task.Batch, task.Time);
            AfterBackward(worker);
            return new HopResult(loss, grad);
        }
        var output = worker.Forward(parts, task.Tokens, task.Input, task.Batch, task.Time);
        var next = task with { Hop = task.Hop + 1, Tokens = null, Input = output };
        var downstream = await ForwardAsync(next, hops[next.Hop].Stage, hops.Length - next.Hop, ct);
        var inputGrad = worker.Backward(parts, task.Tokens, task.Input, downstream.InputGrad!, task.Batch, task.Time);
        AfterBackward(worker);
        return new HopResult(downstream.Loss, inputGrad);
    }

    /// <summary>Sends the next hop to a live replica chosen per (seed, microbatch, hop, attempt); retries another replica on failure.</summary>
    private async Task<HopResult> ForwardAsync(HopTask task, int stage, int remainingHops, CancellationToken ct)
    {
        var tried = new HashSet<PeerId>();
        Exception? last = null;
        for (int attempt = 0; attempt < _options.HopAttemptsMax; attempt++)
        {
            var candidates = _directory.LiveOf(stage).Select(m => m.Peer).Where(p => !tried.Contains(p)).ToList();
            if (_worker?.Stage == stage && !tried.Contains(LocalPeer)) candidates.Add(LocalPeer);
            if (candidates.Count == 0) break;
            candidates.Sort((x, y) => string.CompareOrdinal(x.ToString(), y.ToString()));
            double u = MicrobatchRoute.Unit(_options.Seed, task.Microbatch, task.Hop * 64 + attempt);
            var peer = candidates[(int)(u * candidates.Count)];
            tried.Add(peer);
            try
            {
                if (peer == LocalPeer) return await RunHopAsync(task, ct);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_options.HopTimeout * remainingHops);
                return await SendHopAsync(peer, task, timeout.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                last = e;
                if (e is not HopRefusedException) _directory.MarkSuspect(peer);
                _log.LogDebug("hop {Hop} of microbatch {Microbatch} failed on {Peer}: {Reason}", task.Hop, task.Microbatch, peer, e.Message);
            }
        }
        throw new PipelineProtocolException(PipelineErrorCode.Unavailable,
            $"no live replica of stage {stage} took hop {task.Hop} of microbatch {task.Microbatch}" + (last is null ? "" : $" ({last.Message})"));
    }

    private async Task<HopResult> SendHopAsync(PeerId peer, HopTask task, CancellationToken ct)
    {
        await using var stream = await _network.OpenStreamAsync(peer, PipelineProtocols.Hop, ct);
        var codec = _options.Codec;
        await PipelineWire.WriteAsync(stream, new HopRequest(task.Microbatch, task.Swapped, task.Hop, task.Batch, task.Time, codec, task.Targets), ct);
        await Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, ActivationCodec.Encode(codec, task.Input!), ct);
        var response = await PipelineWire.ReadAsync<HopResponse>(stream, _options.ControlBytesMax, ct);
        if (!response.Ok) throw new HopRefusedException(response.Error ?? "refused");
        if (!double.IsFinite(response.Loss) || response.Loss < 0)
            throw new PipelineProtocolException(PipelineErrorCode.NonFinite, "loss is not a finite non-negative number");
        int values = checked(task.Batch * task.Time * _options.Model.Dim);
        var payload = await PipelineWire.ReadPayloadAsync(stream, ActivationCodec.EncodedBytes(response.Codec, values), ct);
        return new HopResult(response.Loss, ActivationCodec.Decode(response.Codec, payload, values));
    }

    private async Task ServeHopAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        HopResponse response;
        float[]? grad = null;
        try
        {
            var request = await PipelineWire.ReadAsync<HopRequest>(stream, _options.ControlBytesMax, ct);
            int values = ValidateHop(request);
            var payload = await PipelineWire.ReadPayloadAsync(stream, ActivationCodec.EncodedBytes(request.Codec, values), ct);
            var input = ActivationCodec.Decode(request.Codec, payload, values);
            var result = await RunHopAsync(new HopTask(request.Microbatch, request.Swapped, request.Hop, request.Batch, request.Time,
                request.Targets, null, input), ct);
            grad = result.InputGrad;
            response = new HopResponse(true, null, result.Loss, _options.Codec);
        }
        catch (PipelineProtocolException e) when (e.Code != PipelineErrorCode.Unavailable)
        {
            _log.LogWarning("refused a hop from {Peer}: {Reason}", peer, e.Message);
            response = new HopResponse(false, e.Message, 0, _options.Codec);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            response = new HopResponse(false, e.Message, 0, _options.Codec);
        }
        await PipelineWire.WriteAsync(stream, response, ct);
        if (response.Ok && grad is not null)
            await Protocol.StreamExtensions.WriteLengthPrefixedAsync(stream, ActivationCodec.Encode(_options.Codec, grad), ct);
    }

    /// <summary>Checks a hop header against this swarm's shapes before any payload is read; returns B·T·C.</summary>
    private int ValidateHop(HopRequest request)
    {
        if (request.Batch < 1 || request.Batch > _options.Inner.MicroBatchSize || request.Time < 1 || request.Time > _options.Inner.SequenceLength)
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"microbatch shape {request.Batch}x{request.Time} is outside the swarm's");
        if (request.Hop < 1) throw new PipelineProtocolException(PipelineErrorCode.BadRoute, "the embedding hop never travels");
        if (!Enum.IsDefined(request.Codec)) throw new PipelineProtocolException(PipelineErrorCode.BadCodec, $"unknown codec {(byte)request.Codec}");
        var targets = request.Targets ?? [];
        if (targets.Length != request.Batch * request.Time)
            throw new PipelineProtocolException(PipelineErrorCode.BadShape, $"{targets.Length} targets for a {request.Batch}x{request.Time} microbatch");
        foreach (long token in targets)
            if (token < 0 || token >= _options.Model.VocabSize)
                throw new PipelineProtocolException(PipelineErrorCode.NonFinite, $"target token {token} is outside the vocabulary");
        return request.Batch * request.Time * _options.Model.Dim;
    }
}
