namespace Decentralized.Protocol.Yamux;

public sealed partial class YamuxSession
{
    private readonly Dictionary<uint, (long Started, TaskCompletionSource<TimeSpan>? Waiter)> _pings = new();
    private uint _nextPingId;
    private uint? _keepAlivePing;
    private ITimer? _keepAliveTimer;
    private TimeSpan? _roundTripTime;

    /// <summary>The last round-trip time measured by a Yamux ping (keepalive or explicit), if any.</summary>
    public TimeSpan? RoundTripTime { get { lock (_lock) { return _roundTripTime; } } }

    /// <summary>Sends a Yamux ping and returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var waiter = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint id;
        lock (_lock)
        {
            ThrowIfClosed();
            if (_pings.Count >= Options.MaxOutstandingPings)
            {
                throw new ProtocolException(ProtocolErrorCode.ResourceExhausted, "too many pings outstanding");
            }
            id = _nextPingId++;
            _pings[id] = (_time.GetTimestamp(), waiter);
        }
        SendControl(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, id));
        try
        {
            return await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _pings.Remove(id);
            }
        }
    }

    private void HandlePing(YamuxHeader frame)
    {
        if (frame.Flags == YamuxFlags.Syn)
        {
            // Answer with the same opaque value; js closes the session on a mismatched answer.
            SendControl(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, frame.Length));
            return;
        }
        TaskCompletionSource<TimeSpan>? waiter;
        TimeSpan rtt;
        lock (_lock)
        {
            if (!_pings.Remove(frame.Length, out var pending))
            {
                return; // an answer to a ping we gave up on
            }
            rtt = _time.GetElapsedTime(pending.Started);
            _roundTripTime = rtt;
            waiter = pending.Waiter;
            if (_keepAlivePing == frame.Length)
            {
                _keepAlivePing = null;
            }
        }
        waiter?.TrySetResult(rtt);
    }

    private void StartKeepAlive()
    {
        if (Options.KeepAliveInterval is { } interval)
        {
            // Like js, ping once right away so the round-trip time is known from the start.
            OnKeepAliveTick();
            _keepAliveTimer = _time.CreateTimer(_ => OnKeepAliveTick(), null, interval, interval);
        }
    }

    private void StopKeepAlive()
    {
        _keepAliveTimer?.Dispose();
        TaskCompletionSource<TimeSpan>?[] waiters;
        lock (_lock)
        {
            waiters = [.. _pings.Values.Select(p => p.Waiter)];
            _pings.Clear();
        }
        foreach (var waiter in waiters)
        {
            waiter?.TrySetException(ClosedException());
        }
    }

    private void OnKeepAliveTick()
    {
        uint id;
        bool timedOut;
        lock (_lock)
        {
            if (IsClosed)
            {
                return;
            }
            timedOut = _keepAlivePing is not null;
            id = _nextPingId++;
            if (!timedOut)
            {
                _keepAlivePing = id;
                _pings[id] = (_time.GetTimestamp(), null);
            }
        }
        if (timedOut)
        {
            Terminate(new ProtocolException(ProtocolErrorCode.Timeout, $"keepalive ping unanswered for {Options.KeepAliveInterval}"));
            return;
        }
        SendControl(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, id));
    }
}
