using System.Collections.Concurrent;

namespace Decentralized.Protocol.Yamux;

public sealed partial class YamuxSession
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentQueue<YamuxHeader> _control = new();
    private readonly SemaphoreSlim _controlSignal = new(0);
    private readonly byte[] _headerScratch = new byte[YamuxHeader.Size];
    private int _controlCount;
    private int _controlScheduled;

    /// <summary>Queues a control frame for the control writer; never blocks (the read loop calls this).</summary>
    internal void SendControl(YamuxHeader header)
    {
        if (IsClosed)
        {
            return;
        }
        if (Interlocked.Increment(ref _controlCount) > Options.MaxPendingControlFrames)
        {
            Terminate(new ProtocolException(ProtocolErrorCode.ResourceExhausted,
                $"more than {Options.MaxPendingControlFrames} control frames queued: the peer is not reading"));
            return;
        }
        _control.Enqueue(header);
        if (Interlocked.Exchange(ref _controlScheduled, 1) == 0)
        {
            _controlSignal.Release();
        }
    }

    /// <summary>Queues a window update granting <paramref name="delta"/> more bytes on stream <paramref name="id"/>.</summary>
    internal void SendWindowUpdate(uint id, uint delta)
        => SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.None, id, delta));

    /// <summary>
    /// Writes <paramref name="data"/> as Data frames (the caller already reserved the window). Cancellation applies only
    /// while waiting for the write lock: a frame half-written would corrupt the session.
    /// </summary>
    internal async ValueTask WriteDataAsync(uint id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            await DrainControlAsync().ConfigureAwait(false);
            while (!data.IsEmpty)
            {
                var chunk = Math.Min(data.Length, Options.MaxFramePayloadBytes);
                new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, id, (uint)chunk).Write(_headerScratch);
                await _transport.WriteAsync(_headerScratch, CancellationToken.None).ConfigureAwait(false);
                await _transport.WriteAsync(data[..chunk], CancellationToken.None).ConfigureAwait(false);
                data = data[chunk..];
            }
            await _transport.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ProtocolException)
        {
            var error = new ProtocolException(ProtocolErrorCode.ConnectionClosed, "write failed: " + e.Message, e);
            Terminate(error);
            throw IsClosed ? ClosedException() : error;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ControlLoopAsync()
    {
        try
        {
            while (true)
            {
                await _controlSignal.WaitAsync().ConfigureAwait(false);
                if (IsClosed)
                {
                    return;
                }
                Volatile.Write(ref _controlScheduled, 0);
                await _writeLock.WaitAsync().ConfigureAwait(false);
                try
                {
                    if (await DrainControlAsync().ConfigureAwait(false))
                    {
                        await _transport.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _writeLock.Release();
                }
            }
        }
        catch (Exception e)
        {
            Terminate(IsClosed ? e : new ProtocolException(ProtocolErrorCode.ConnectionClosed, "write failed: " + e.Message, e));
        }
    }

    /// <summary>Writes every queued control frame (caller holds the write lock); true if any was written.</summary>
    private async ValueTask<bool> DrainControlAsync()
    {
        var any = false;
        while (_control.TryDequeue(out var header))
        {
            Interlocked.Decrement(ref _controlCount);
            header.Write(_headerScratch);
            await _transport.WriteAsync(_headerScratch, CancellationToken.None).ConfigureAwait(false);
            any = true;
        }
        return any;
    }

    private async Task WriteGoAwayAsync(YamuxGoAwayCode code, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DrainControlAsync().ConfigureAwait(false);
            new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)code).Write(_headerScratch);
            await _transport.WriteAsync(_headerScratch, CancellationToken.None).ConfigureAwait(false);
            await _transport.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
