namespace Decentralized.Protocol.Yamux;

public sealed partial class YamuxSession
{
    private const int SkipBufferBytes = 16 * 1024;
    private static readonly TimeSpan GoAwayFlushTimeout = TimeSpan.FromSeconds(1);

    private byte[]? _skipBuffer;

    private async Task ReadLoopAsync()
    {
        var header = new byte[YamuxHeader.Size];
        try
        {
            while (await ReadHeaderAsync(header).ConfigureAwait(false))
            {
                var frame = YamuxHeader.Read(header);
                switch (frame.Type)
                {
                    case YamuxFrameType.Data:
                    case YamuxFrameType.WindowUpdate:
                        await HandleStreamFrameAsync(frame).ConfigureAwait(false);
                        break;
                    case YamuxFrameType.Ping:
                        HandlePing(frame);
                        break;
                    default:
                        HandleGoAway(frame);
                        break;
                }
            }
            Terminate(new ProtocolException(ProtocolErrorCode.ConnectionClosed, "remote closed the connection"));
        }
        catch (ProtocolException e) when (e.Code is not (ProtocolErrorCode.ConnectionClosed or ProtocolErrorCode.UnexpectedEndOfStream))
        {
            // Tell the peer why before hanging up, but never wait long on a peer that does not read.
            if (!IsClosed)
            {
                try
                {
                    await WriteGoAwayAsync(YamuxGoAwayCode.ProtocolError, CancellationToken.None)
                        .WaitAsync(GoAwayFlushTimeout, _time).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Best effort.
                }
            }
            Terminate(e);
        }
        catch (Exception e)
        {
            Terminate(IsClosed ? e : new ProtocolException(ProtocolErrorCode.ConnectionClosed, "connection failed: " + e.Message, e));
        }
    }

    private async ValueTask<bool> ReadHeaderAsync(byte[] header)
    {
        var read = 0;
        while (read < header.Length)
        {
            var n = await _transport.ReadAsync(header.AsMemory(read), CancellationToken.None).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 ? false : throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "connection ended inside a yamux header");
            }
            read += n;
        }
        return true;
    }

    private async ValueTask HandleStreamFrameAsync(YamuxHeader frame)
    {
        YamuxStream? stream;
        if ((frame.Flags & YamuxFlags.Syn) != 0)
        {
            stream = OnRemoteOpen(frame.StreamId);
        }
        else
        {
            lock (_lock)
            {
                _streams.TryGetValue(frame.StreamId, out stream);
            }
        }
        if (frame.Type == YamuxFrameType.Data)
        {
            await ReceiveDataAsync(stream, frame.StreamId, frame.Length).ConfigureAwait(false);
        }
        else
        {
            stream?.AddSendWindow(frame.Length);
        }
        if (stream is null)
        {
            return; // js ignores frames for unknown streams too (e.g. ones we reset).
        }
        if ((frame.Flags & YamuxFlags.Rst) != 0)
        {
            stream.MarkReset(new ProtocolException(ProtocolErrorCode.StreamReset, $"stream {frame.StreamId} was reset by the peer"));
            OnStreamStateChanged(stream);
        }
        else if ((frame.Flags & YamuxFlags.Fin) != 0)
        {
            stream.OnRemoteClose();
            OnStreamStateChanged(stream);
        }
    }

    private YamuxStream? OnRemoteOpen(uint id)
    {
        // The dialer (client) uses odd IDs, the listener even ones; a peer using our parity is a second client.
        var remoteIsOdd = !IsClient;
        if ((id % 2 == 1) != remoteIsOdd)
        {
            throw new ProtocolException(ProtocolErrorCode.MuxerProtocolError,
                $"yamux: peer opened stream {id} with our parity (both endpoints are {(IsClient ? "clients" : "servers")})");
        }
        YamuxStream? stream = null;
        lock (_lock)
        {
            if (_streams.ContainsKey(id))
            {
                throw new ProtocolException(ProtocolErrorCode.MuxerProtocolError, $"yamux: duplicate SYN for stream {id}");
            }
            var limit = _trusted ? Options.MaxInboundStreams : Options.MaxInboundStreamsUntrusted;
            if (!_localGoAway && _inboundCount < limit)
            {
                stream = new YamuxStream(this, id, isInbound: true);
                _streams.Add(id, stream);
                _inboundCount++;
            }
        }
        if (stream is not null && _accept.Writer.TryWrite(stream))
        {
            return stream;
        }
        if (stream is not null)
        {
            stream.MarkReset(new ProtocolException(ProtocolErrorCode.StreamLimitExceeded, "accept backlog full"));
            OnStreamStateChanged(stream);
        }
        SendControl(new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, id, 0));
        return null;
    }

    private async ValueTask ReceiveDataAsync(YamuxStream? stream, uint id, uint length)
    {
        if (length == 0)
        {
            return;
        }
        if (stream is null)
        {
            // Data in flight for a stream we already dropped: bounded by the largest window we could have granted.
            if (length > (uint)Options.MaxStreamWindowBytes)
            {
                throw new ProtocolException(ProtocolErrorCode.FlowControlViolation, $"{length}-byte frame for unknown stream {id}");
            }
            await SkipAsync((int)length).ConfigureAwait(false);
            return;
        }
        if (length > (uint)Options.MaxStreamWindowBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.FlowControlViolation, $"stream {id}: {length}-byte frame exceeds any window");
        }
        var size = (int)length;
        if (!_trusted && BufferedBytes() + size > Options.MaxBufferedBytesUntrusted)
        {
            throw new ProtocolException(ProtocolErrorCode.ResourceExhausted,
                $"stream {id}: more than {Options.MaxBufferedBytesUntrusted} unread bytes before the connection was authenticated");
        }
        var (first, second) = stream.BeginReceive(size, out var discard);
        if (discard)
        {
            await SkipAsync(size).ConfigureAwait(false);
        }
        else
        {
            await ReadExactlyAsync(first).ConfigureAwait(false);
            await ReadExactlyAsync(second).ConfigureAwait(false);
        }
        var credit = stream.EndReceive(size, discard);
        if (credit > 0)
        {
            SendWindowUpdate(id, credit);
        }
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var n = await _transport.ReadAsync(destination, CancellationToken.None).ConfigureAwait(false);
            if (n == 0)
            {
                throw new ProtocolException(ProtocolErrorCode.UnexpectedEndOfStream, "connection ended inside a yamux data frame");
            }
            destination = destination[n..];
        }
    }

    private async ValueTask SkipAsync(int length)
    {
        _skipBuffer ??= new byte[SkipBufferBytes];
        while (length > 0)
        {
            var chunk = Math.Min(length, _skipBuffer.Length);
            await ReadExactlyAsync(_skipBuffer.AsMemory(0, chunk)).ConfigureAwait(false);
            length -= chunk;
        }
    }

    private void HandleGoAway(YamuxHeader frame)
    {
        lock (_lock)
        {
            _remoteGoAway = true;
        }
        RemoteGoAwayCode = (YamuxGoAwayCode)frame.Length;
    }
}
