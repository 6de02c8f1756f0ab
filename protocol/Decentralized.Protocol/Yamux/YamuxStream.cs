namespace Decentralized.Protocol.Yamux;

/// <summary>
/// One Yamux stream as a duplex <see cref="Stream"/>. Writes respect the peer's window and block until it opens;
/// reads drain a receive buffer bounded by our advertised window. <see cref="CloseWriteAsync"/> sends FIN
/// (half-close); <see cref="Reset"/> sends RST; disposing half-closes and discards whatever the peer still sends.
/// </summary>
public sealed class YamuxStream : Stream, IHalfCloseable
{
    private readonly YamuxSession _session;
    private readonly object _lock = new();
    private readonly ByteRingBuffer _buffer = new();

    private long _sendWindow = YamuxOptions.InitialWindowBytes;
    private int _receiveWindow = YamuxOptions.InitialWindowBytes;
    private long _receiveRemaining = YamuxOptions.InitialWindowBytes;
    private int _consumedUncredited;
    private bool _localClosed;
    private bool _remoteClosed;
    private bool _reset;
    private bool _disposed;
    private Exception? _failure;
    private TaskCompletionSource? _readWaiter;
    private TaskCompletionSource? _writeWaiter;

    internal YamuxStream(YamuxSession session, uint id, bool isInbound)
    {
        _session = session;
        Id = id;
        IsInbound = isInbound;
    }

    /// <summary>The Yamux stream ID (odd: opened by the dialer, even: by the listener).</summary>
    public uint Id { get; }

    /// <summary>True if the remote opened this stream.</summary>
    public bool IsInbound { get; }

    /// <summary>Our current receive window (grows from 256 KiB for fast readers).</summary>
    public int ReceiveWindow { get { lock (_lock) { return _receiveWindow; } } }

    /// <inheritdoc />
    public override bool CanRead => true;
    /// <inheritdoc />
    public override bool CanWrite => true;
    /// <inheritdoc />
    public override bool CanSeek => false;
    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    internal YamuxSession Session => _session;

    internal bool IsFinished => _reset || (_localClosed && _remoteClosed);

    /// <summary>Unread bytes in the receive buffer (read without the lock: an estimate for the session's bounds).</summary>
    internal int BufferedBytes => _buffer.Count;

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (true)
        {
            Task? wait = null;
            var read = 0;
            uint credit = 0;
            lock (_lock)
            {
                ThrowIfReadFailed();
                if (_buffer.Count > 0)
                {
                    read = _buffer.Read(buffer.Span);
                    credit = TakeCredit(read);
                }
                else if (_remoteClosed)
                {
                    return 0;
                }
                else
                {
                    _readWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _readWaiter.Task;
                }
            }
            if (wait is null)
            {
                if (credit > 0)
                {
                    _session.SendWindowUpdate(Id, credit);
                }
                return read;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            Task? wait = null;
            int chunk = 0;
            lock (_lock)
            {
                ThrowIfWriteFailed();
                if (_sendWindow == 0)
                {
                    _writeWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _writeWaiter.Task;
                }
                else
                {
                    // At most one frame per turn at the session's write lock, so pings, window updates and other
                    // streams interleave with a bulk transfer instead of waiting behind megabytes of it.
                    chunk = (int)Math.Min(Math.Min(buffer.Length, _sendWindow), _session.Options.MaxFramePayloadBytes);
                    _sendWindow -= chunk;
                }
            }
            if (wait is not null)
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            await _session.WriteDataAsync(Id, buffer[..chunk], cancellationToken).ConfigureAwait(false);
            buffer = buffer[chunk..];
        }
    }

    /// <summary>Nothing to do: every write reaches the session's writer before it returns.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public ValueTask CloseWriteAsync(CancellationToken cancellationToken = default)
    {
        bool send;
        lock (_lock)
        {
            if (_reset)
            {
                ThrowIfWriteFailed();
            }
            send = !_localClosed;
            _localClosed = true;
        }
        if (send)
        {
            _session.SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, 0));
            _session.OnStreamStateChanged(this);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Aborts both directions with RST; pending reads and writes fail.</summary>
    public void Reset()
    {
        if (MarkReset(new ProtocolException(ProtocolErrorCode.StreamReset, $"stream {Id} was reset locally")))
        {
            _session.SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0));
            _session.OnStreamStateChanged(this);
        }
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            uint credit = 0;
            bool sendFin;
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                sendFin = !_localClosed && !_reset && _failure is null;
                _localClosed = true;
                // Unread bytes are dropped; credit them back so the peer can finish sending.
                credit = _reset || _remoteClosed ? 0 : (uint)(_buffer.Count + _consumedUncredited);
                _receiveRemaining += credit;
                _consumedUncredited = 0;
                _buffer.Clear();
            }
            if (sendFin)
            {
                _session.SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, Id, credit));
            }
            else if (credit > 0)
            {
                _session.SendWindowUpdate(Id, credit);
            }
            _session.OnStreamStateChanged(this);
        }
        base.Dispose(disposing);
    }

    /// <summary>Read loop: accounts a Data frame against the window and returns where to put it (empty: discard).</summary>
    internal (Memory<byte> First, Memory<byte> Second) BeginReceive(int length, out bool discard)
    {
        lock (_lock)
        {
            if (length > _receiveRemaining)
            {
                throw new ProtocolException(ProtocolErrorCode.FlowControlViolation,
                    $"stream {Id}: {length}-byte frame exceeds the {_receiveRemaining} bytes of window left");
            }
            _receiveRemaining -= length;
            discard = _disposed || _reset || _remoteClosed;
            if (discard)
            {
                return default;
            }
            _buffer.EnsureFree(length);
            return _buffer.GetFree(length);
        }
    }

    /// <summary>Read loop: the frame's bytes are in place (or were discarded); returns the window to credit back now.</summary>
    internal uint EndReceive(int length, bool discarded)
    {
        lock (_lock)
        {
            if (discarded || _disposed || _reset)
            {
                _receiveRemaining += length;
                return _disposed ? (uint)length : 0;
            }
            _buffer.Commit(length);
            WakeReader();
            return 0;
        }
    }

    /// <summary>Read loop: the peer granted more send window.</summary>
    internal void AddSendWindow(uint delta)
    {
        lock (_lock)
        {
            if (_sendWindow + delta > uint.MaxValue)
            {
                throw new ProtocolException(ProtocolErrorCode.MuxerProtocolError, $"stream {Id}: send window overflows 2^32");
            }
            _sendWindow += delta;
            if (delta > 0)
            {
                var waiter = _writeWaiter;
                _writeWaiter = null;
                waiter?.TrySetResult();
            }
        }
    }

    /// <summary>Read loop: the peer sent FIN.</summary>
    internal void OnRemoteClose()
    {
        lock (_lock)
        {
            _remoteClosed = true;
            WakeReader();
        }
    }

    /// <summary>Marks the stream reset (remote RST, local reset, or session end); false if it already was.</summary>
    internal bool MarkReset(Exception reason)
    {
        lock (_lock)
        {
            if (_reset)
            {
                return false;
            }
            _reset = true;
            _failure ??= reason;
            _buffer.Clear();
            WakeReader();
            var waiter = _writeWaiter;
            _writeWaiter = null;
            waiter?.TrySetResult();
            return true;
        }
    }

    private uint TakeCredit(int read)
    {
        // Called under the lock. Credit back in half-window batches. A reader that keeps the buffer at most a quarter full
        // is keeping up, so the sender is limited by our window: double it (auto-tuning) while the session budget allows.
        // A slow reader leaves the buffer full and the window stays where it is, bounding memory.
        _consumedUncredited += read;
        if (_remoteClosed || _consumedUncredited < _receiveWindow / 2)
        {
            return 0;
        }
        var growth = 0;
        // An untrusted session (connection gate pending) never grows a window: see YamuxOptions.MaxBufferedBytesUntrusted.
        if (_session.IsTrusted && _buffer.Count <= _receiveWindow / 4 && _receiveWindow < _session.Options.MaxStreamWindowBytes)
        {
            var wanted = Math.Min(_receiveWindow, _session.Options.MaxStreamWindowBytes - _receiveWindow);
            if (_session.TryReserveWindowGrowth(wanted))
            {
                growth = wanted;
                _receiveWindow += wanted;
            }
        }
        var credit = (uint)(_consumedUncredited + growth);
        _consumedUncredited = 0;
        _receiveRemaining += credit;
        return credit;
    }

    private void WakeReader()
    {
        var waiter = _readWaiter;
        _readWaiter = null;
        waiter?.TrySetResult();
    }

    private void ThrowIfReadFailed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_reset)
        {
            throw _failure as ProtocolException ?? new ProtocolException(ProtocolErrorCode.StreamReset, $"stream {Id} was reset", _failure);
        }
    }

    private void ThrowIfWriteFailed()
    {
        ThrowIfReadFailed();
        if (_localClosed)
        {
            throw new InvalidOperationException($"stream {Id} was already closed for writing");
        }
    }

    internal int GrownWindowBytes
    {
        get { lock (_lock) { return _receiveWindow - YamuxOptions.InitialWindowBytes; } }
    }
}
