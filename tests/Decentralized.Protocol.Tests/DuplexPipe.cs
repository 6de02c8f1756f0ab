using System.IO.Pipelines;

namespace Decentralized.Protocol.Tests;

/// <summary>An in-memory connected pair of duplex streams (what a loopback socket pair would be, minus the kernel).</summary>
internal sealed class DuplexPipe : Stream
{
    private readonly Stream _read;
    private readonly Stream _write;

    private DuplexPipe(Stream read, Stream write)
    {
        _read = read;
        _write = write;
    }

    public static (DuplexPipe A, DuplexPipe B) Create()
    {
        var ab = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19));
        var ba = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19));
        return (new DuplexPipe(ba.Reader.AsStream(), ab.Writer.AsStream()), new DuplexPipe(ab.Reader.AsStream(), ba.Writer.AsStream()));
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _read.ReadAsync(buffer, cancellationToken);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _write.WriteAsync(buffer, cancellationToken);
    public override Task FlushAsync(CancellationToken cancellationToken) => _write.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => _read.Read(buffer, offset, count);
    public override void Write(byte[] buffer, int offset, int count) => _write.Write(buffer, offset, count);
    public override void Flush() => _write.Flush();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _write.Dispose();
            _read.Dispose();
        }
        base.Dispose(disposing);
    }
}
