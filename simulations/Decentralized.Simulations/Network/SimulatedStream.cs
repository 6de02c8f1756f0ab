using Decentralized.Protocol;

namespace Decentralized.Simulations.Network;

/// <summary>
/// One side of a simulated protocol stream: a duplex byte stream whose writes travel through the network model
/// (each write is one message, delivered in order within the stream) and whose reads wait for deliveries.
/// Asynchronous reads never block the event loop; a synchronous <see cref="Read(byte[], int, int)"/> only succeeds
/// when data is already buffered (simulated code must use the async methods, as the swarm logic does).
/// </summary>
public sealed class SimulatedStream : Stream, IHalfCloseable
{
    private readonly SimulatedConnection _connection;
    private readonly int _side;
    private readonly object _sendOrder = new();
    private readonly Queue<byte[]> _chunks = new();
    private readonly List<TaskCompletionSource> _pendingWrites = new();
    private int _chunkOffset;
    private long _buffered;
    private bool _remoteFinished;
    private bool _writeClosed;
    private bool _disposed;
    private Exception? _error;
    private TaskCompletionSource<int>? _pendingRead;
    private Memory<byte> _pendingBuffer;
    private CancellationTokenRegistration _pendingRegistration;

    internal SimulatedStream(SimulatedConnection connection, int side, string protocolId)
    {
        _connection = connection;
        _side = side;
        ProtocolId = protocolId;
    }

    /// <summary>The protocol this stream was opened for.</summary>
    public string ProtocolId { get; }

    /// <summary>Bytes received and not yet read.</summary>
    public long BufferedBytes => _buffered;

    internal SimulatedStream? Remote { get; set; }

    /// <inheritdoc />
    public override bool CanRead => !_disposed;

    /// <inheritdoc />
    public override bool CanWrite => !_disposed && !_writeClosed;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pendingRead is not null) throw new InvalidOperationException("a read is already pending on this stream");
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<int>(cancellationToken);
        if (_error is not null) return ValueTask.FromException<int>(_error);
        if (buffer.Length == 0) return ValueTask.FromResult(0);
        if (_buffered > 0) return ValueTask.FromResult(CopyOut(buffer.Span));
        if (_remoteFinished) return ValueTask.FromResult(0);
        var pending = new TaskCompletionSource<int>();
        _pendingRead = pending;
        _pendingBuffer = buffer;
        if (cancellationToken.CanBeCanceled)
            _pendingRegistration = cancellationToken.Register(() => CompleteRead(r => r.TrySetCanceled(cancellationToken)));
        return new ValueTask<int>(pending.Task);
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads only what is already buffered; throws if it would have to wait (that would stall the event loop).</summary>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_error is not null) throw _error;
        if (count == 0) return 0;
        if (_buffered > 0) return CopyOut(buffer.AsSpan(offset, count));
        if (_remoteFinished) return 0;
        throw new InvalidOperationException("a synchronous read on a simulated stream would block the event loop; use ReadAsync");
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var done = StartWrite(buffer);
        if (done is null) return;
        if (!cancellationToken.CanBeCanceled)
        {
            await done.Task;
            return;
        }
        // Cancelling a write only stops the wait: the bytes already handed to the transport still go out.
        using var registration = cancellationToken.Register(() => done.TrySetCanceled(cancellationToken));
        await done.Task;
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Hands the bytes to the transport and returns at once (like a write into an unbounded socket buffer).</summary>
    public override void Write(byte[] buffer, int offset, int count) => StartWrite(buffer.AsMemory(offset, count));

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Sends FIN: the remote reads the end of the stream after the data already sent.</summary>
    public ValueTask CloseWriteAsync(CancellationToken cancellationToken = default)
    {
        if (_writeClosed || _disposed || _error is not null) return ValueTask.CompletedTask;
        _writeClosed = true;
        var remote = Remote;
        _connection.Send(_side, WireOverhead.Control(), _sendOrder, () => remote?.ReceiveFin(), onTransmitted: null);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Closes gracefully: FIN if still writing; data that arrives later is discarded.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            CloseWriteAsync();
            _disposed = true;
            Fail(new ObjectDisposedException(nameof(SimulatedStream)));
            _connection.Forget(this);
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Aborts the stream: pending and future reads and writes fail with <paramref name="error"/>.</summary>
    internal void Fail(Exception error)
    {
        _error ??= error;
        _chunks.Clear();
        _buffered = 0;
        CompleteRead(r => r.TrySetException(_error));
        foreach (var w in _pendingWrites.ToArray()) w.TrySetException(_error);
        _pendingWrites.Clear();
    }

    /// <summary>Aborts the stream on both sides (a reset frame the remote sees after one-way latency).</summary>
    public void Reset()
    {
        var error = new ProtocolException(ProtocolErrorCode.StreamReset, $"stream {ProtocolId} was reset locally");
        var remote = Remote;
        _connection.Send(_side, WireOverhead.Control(), _sendOrder,
            () => remote?.Fail(new ProtocolException(ProtocolErrorCode.StreamReset, $"stream {ProtocolId} was reset by the peer")), onTransmitted: null);
        Fail(error);
    }

    internal void Receive(byte[] data)
    {
        if (_disposed || _error is not null) return;
        _chunks.Enqueue(data);
        _buffered += data.Length;
        if (_pendingRead is not null)
        {
            var buffer = _pendingBuffer;
            CompleteRead(r => r.TrySetResult(CopyOut(buffer.Span)));
        }
    }

    internal void ReceiveFin()
    {
        _remoteFinished = true;
        if (_buffered == 0) CompleteRead(r => r.TrySetResult(0));
    }

    private TaskCompletionSource? StartWrite(ReadOnlyMemory<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_error is not null) throw _error;
        if (_writeClosed) throw new InvalidOperationException("the stream's write side is closed");
        if (buffer.Length == 0) return null;
        var done = new TaskCompletionSource();
        _pendingWrites.Add(done);
        int max = _connection.MaxMessageBytes;
        var remote = Remote;
        for (int offset = 0; offset < buffer.Length; offset += max)
        {
            var piece = buffer.Slice(offset, Math.Min(max, buffer.Length - offset)).ToArray();
            bool last = offset + max >= buffer.Length;
            _connection.Send(_side, WireOverhead.Bytes(piece.Length), _sendOrder, () => remote?.Receive(piece),
                last ? () => { _pendingWrites.Remove(done); done.TrySetResult(); } : null);
        }
        return done;
    }

    private int CopyOut(Span<byte> destination)
    {
        int copied = 0;
        while (copied < destination.Length && _chunks.Count > 0)
        {
            var head = _chunks.Peek();
            int n = Math.Min(destination.Length - copied, head.Length - _chunkOffset);
            head.AsSpan(_chunkOffset, n).CopyTo(destination[copied..]);
            copied += n;
            _chunkOffset += n;
            if (_chunkOffset == head.Length) { _chunks.Dequeue(); _chunkOffset = 0; }
        }
        _buffered -= copied;
        return copied;
    }

    private void CompleteRead(Action<TaskCompletionSource<int>> complete)
    {
        var pending = _pendingRead;
        if (pending is null) return;
        _pendingRead = null;
        _pendingBuffer = default;
        _pendingRegistration.Dispose();
        _pendingRegistration = default;
        complete(pending);
    }
}
