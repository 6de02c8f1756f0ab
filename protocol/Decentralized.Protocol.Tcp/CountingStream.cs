namespace Decentralized.Protocol.Tcp;

/// <summary>
/// Pass-through stream that counts the bytes each way (for <c>GetStats</c>) and, when given a limit, fails once
/// either direction passes it. The limit serves the client's side of a relayed connection: the relay's announced
/// data limit is enforced here too, so we stop cleanly (the connection fails with ResourceExhausted and the swarm
/// redials) instead of pushing bulk data into a relay that is about to reset us. Owns the inner stream.
/// </summary>
internal sealed class CountingStream(Stream inner, long bytesMax = long.MaxValue, string limitName = "data") : Stream
{
    private long _bytesRead;
    private long _bytesWritten;

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>The wrapped stream.</summary>
    public Stream Inner => inner;
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Add(ref _bytesRead, n) > bytesMax)
        {
            throw new ProtocolException(ProtocolErrorCode.ResourceExhausted, $"{limitName} limit of {bytesMax} bytes reached (inbound)");
        }
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Counted before the write: a write that would pass the limit is refused whole, nothing of it is sent.
        if (Interlocked.Add(ref _bytesWritten, buffer.Length) > bytesMax)
        {
            throw new ProtocolException(ProtocolErrorCode.ResourceExhausted, $"{limitName} limit of {bytesMax} bytes reached (outbound)");
        }
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
