namespace Decentralized.Protocol.Tcp;

/// <summary>
/// The client's side of a relayed connection: the hop or stop stream, with the relay's announced limits enforced
/// here too, so that we stop cleanly (the connection fails with ResourceExhausted and the swarm redials) instead of
/// pushing bulk data into a relay that is about to reset us. Owns the inner stream.
/// </summary>
internal sealed class RelayedStream(Stream inner, long bytesMax) : Stream
{
    private long _read;
    private long _written;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Add(ref _read, n) > bytesMax)
        {
            throw new ProtocolException(ProtocolErrorCode.ResourceExhausted, $"relay data limit of {bytesMax} bytes reached (inbound)");
        }
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Add(ref _written, buffer.Length) > bytesMax)
        {
            throw new ProtocolException(ProtocolErrorCode.ResourceExhausted, $"relay data limit of {bytesMax} bytes reached (outbound)");
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
