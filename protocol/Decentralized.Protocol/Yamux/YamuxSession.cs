using System.Threading.Channels;

namespace Decentralized.Protocol.Yamux;

/// <summary>
/// A Yamux session (<c>/yamux/1.0.0</c>) multiplexing streams over one secured connection.
/// <para>
/// Three activities run per session: the read loop (parses frames, feeds stream buffers, never waits on a write),
/// a control writer (flushes window updates, ping answers, FIN/RST queued by anyone), and the callers' own data
/// writes, which take the write lock, first drain queued control frames (keeping SYN before data) and then write their
/// frames. Any protocol violation sends GoAway(1) and closes the session; its streams fail with the reason.
/// </para>
/// Pure: time comes from the injected <see cref="TimeProvider"/>; there are no sockets or thread-pool calls here.
/// </summary>
public sealed partial class YamuxSession : IAsyncDisposable
{
    /// <summary>The multistream protocol ID of Yamux.</summary>
    public const string ProtocolId = "/yamux/1.0.0";

    private readonly Stream _transport;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly Dictionary<uint, YamuxStream> _streams = new();
    private readonly Channel<YamuxStream> _accept;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _nextStreamId;
    private int _inboundCount;
    private int _outboundCount;
    private long _windowGrowthUsed;
    private long _idleSince;
    private bool _localGoAway;
    private bool _remoteGoAway;
    private int _terminated;
    private int _started;
    private volatile bool _trusted;

    /// <summary>Creates a session over <paramref name="transport"/> (which it owns). Call <see cref="Start"/> next.</summary>
    /// <param name="untrusted">
    /// True while the peer is still to be authenticated above the muxer (a connection gate): the session then holds the
    /// peer to <see cref="YamuxOptions.MaxInboundStreamsUntrusted"/> and <see cref="YamuxOptions.MaxBufferedBytesUntrusted"/>
    /// until <see cref="Trust"/> is called.
    /// </param>
    public YamuxSession(Stream transport, bool isClient, YamuxOptions? options = null, TimeProvider? timeProvider = null, bool untrusted = false)
    {
        _trusted = !untrusted;
        Options = options ?? new YamuxOptions();
        Options.Validate();
        _transport = transport;
        _time = timeProvider ?? TimeProvider.System;
        IsClient = isClient;
        _nextStreamId = isClient ? 1u : 2u;
        _accept = Channel.CreateBounded<YamuxStream>(new BoundedChannelOptions(Options.AcceptBacklog) { SingleWriter = true });
        _idleSince = _time.GetTimestamp();
    }

    /// <summary>The limits in force.</summary>
    public YamuxOptions Options { get; }

    /// <summary>True for the dialer side (odd stream IDs).</summary>
    public bool IsClient { get; }

    /// <summary>Completes (never faults) when the session has ended; see <see cref="CloseReason"/>.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Why the session ended (null while open).</summary>
    public Exception? CloseReason { get; private set; }

    /// <summary>True once the session has ended.</summary>
    public bool IsClosed => Volatile.Read(ref _terminated) != 0;

    /// <summary>The GoAway code the peer sent, if any.</summary>
    public YamuxGoAwayCode? RemoteGoAwayCode { get; private set; }

    /// <summary>Streams currently open in either direction.</summary>
    public int ActiveStreamCount { get { lock (_lock) { return _streams.Count; } } }

    /// <summary>How long the session has had no open stream (zero while any is open).</summary>
    public TimeSpan IdleTime
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count > 0 ? TimeSpan.Zero : _time.GetElapsedTime(_idleSince);
            }
        }
    }

    /// <summary>False until <see cref="Trust"/> for a session created untrusted.</summary>
    public bool IsTrusted => _trusted;

    /// <summary>The peer passed the gate: the full stream and window limits apply from now on.</summary>
    public void Trust() => _trusted = true;

    /// <summary>Starts the read loop, the control writer and the keepalive timer.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("session already started");
        }
        _ = ReadLoopAsync();
        _ = ControlLoopAsync();
        StartKeepAlive();
    }

    /// <summary>Opens a new outbound stream (sends WindowUpdate|SYN; data may follow at once).</summary>
    public YamuxStream OpenStream()
    {
        YamuxStream stream;
        lock (_lock)
        {
            ThrowIfClosed();
            if (_remoteGoAway)
            {
                throw new ProtocolException(ProtocolErrorCode.GoAwayReceived, "peer sent GoAway; no new streams");
            }
            if (_outboundCount >= Options.MaxOutboundStreams)
            {
                throw new ProtocolException(ProtocolErrorCode.StreamLimitExceeded, $"{Options.MaxOutboundStreams} outbound streams already open");
            }
            if (_nextStreamId > uint.MaxValue - 2)
            {
                throw new ProtocolException(ProtocolErrorCode.StreamLimitExceeded, "stream IDs exhausted");
            }
            stream = new YamuxStream(this, _nextStreamId, isInbound: false);
            _nextStreamId += 2;
            _streams.Add(stream.Id, stream);
            _outboundCount++;
        }
        SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, stream.Id, 0));
        return stream;
    }

    /// <summary>Waits for the next inbound stream and acknowledges it.</summary>
    public async ValueTask<YamuxStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        YamuxStream stream;
        try
        {
            stream = await _accept.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw ClosedException();
        }
        SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, stream.Id, 0));
        return stream;
    }

    /// <summary>Sends GoAway with <paramref name="code"/>, then closes the transport.</summary>
    public async Task CloseAsync(YamuxGoAwayCode code = YamuxGoAwayCode.Normal, CancellationToken cancellationToken = default)
    {
        if (IsClosed)
        {
            return;
        }
        lock (_lock)
        {
            _localGoAway = true;
        }
        try
        {
            await WriteGoAwayAsync(code, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: the peer may already be gone.
        }
        Terminate(new ProtocolException(ProtocolErrorCode.ConnectionClosed, $"session closed locally ({code})"));
    }

    /// <summary>Closes the session at once without GoAway; every stream fails with <paramref name="reason"/>.</summary>
    public void Abort(Exception reason) => Terminate(reason);

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync().ConfigureAwait(false);

    /// <summary>True if <paramref name="stream"/> belongs to this session.</summary>
    public bool Owns(YamuxStream stream) => ReferenceEquals(stream.Session, this);

    /// <summary>Reserves receive-window growth from the session budget.</summary>
    internal bool TryReserveWindowGrowth(int bytes)
    {
        if (Interlocked.Add(ref _windowGrowthUsed, bytes) <= Options.MaxSessionWindowGrowthBytes)
        {
            return true;
        }
        Interlocked.Add(ref _windowGrowthUsed, -bytes);
        return false;
    }

    /// <summary>Removes a stream that is finished in both directions (or reset) from the table.</summary>
    internal void OnStreamStateChanged(YamuxStream stream)
    {
        if (!stream.IsFinished)
        {
            return;
        }
        lock (_lock)
        {
            if (!_streams.Remove(stream.Id))
            {
                return;
            }
            if (stream.IsInbound)
            {
                _inboundCount--;
            }
            else
            {
                _outboundCount--;
            }
            if (_streams.Count == 0)
            {
                _idleSince = _time.GetTimestamp();
            }
        }
        Interlocked.Add(ref _windowGrowthUsed, -stream.GrownWindowBytes);
    }

    /// <summary>Unread bytes held by all streams (an estimate taken without the streams' locks; for the untrusted bound).</summary>
    private long BufferedBytes()
    {
        lock (_lock)
        {
            long total = 0;
            foreach (var stream in _streams.Values)
            {
                total += stream.BufferedBytes;
            }
            return total;
        }
    }

    private void Terminate(Exception reason)
    {
        if (Interlocked.Exchange(ref _terminated, 1) != 0)
        {
            return;
        }
        CloseReason = reason;
        _accept.Writer.TryComplete();
        YamuxStream[] streams;
        lock (_lock)
        {
            streams = [.. _streams.Values];
            _streams.Clear();
        }
        var closed = ClosedException();
        foreach (var stream in streams)
        {
            stream.MarkReset(closed);
        }
        while (_accept.Reader.TryRead(out var pending))
        {
            pending.MarkReset(closed);
        }
        StopKeepAlive();
        _controlSignal.Release();
        try
        {
            _transport.Dispose();
        }
        catch (Exception)
        {
            // Disposing a broken transport may throw; the session is over either way.
        }
        _completion.TrySetResult();
    }

    private ProtocolException ClosedException()
    {
        var reason = CloseReason;
        return reason is ProtocolException { Code: ProtocolErrorCode.ConnectionClosed } p
            ? p
            : new ProtocolException(ProtocolErrorCode.ConnectionClosed, "session closed: " + (reason?.Message ?? "closed"), reason);
    }

    private void ThrowIfClosed()
    {
        if (IsClosed)
        {
            throw ClosedException();
        }
    }
}
