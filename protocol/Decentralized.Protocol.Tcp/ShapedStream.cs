using System.Threading.Channels;
using Decentralized.Protocol.Network;

namespace Decentralized.Protocol.Tcp;

/// <summary>
/// One host's emulated access link (<see cref="LinkShape"/>): the uplink and downlink pacers that all its connections
/// share, and the shape's per-connection parts. The host makes one and wraps every TCP socket with <see cref="Wrap"/>.
/// </summary>
public sealed class ShapedLink(LinkShape shape, TimeProvider time)
{
    public LinkShape Shape => shape;
    internal TimeProvider Time => time;
    internal RatePacer Uplink { get; } = new(time, shape.BytesPerSecond);
    internal RatePacer Downlink { get; } = new(time, shape.BytesPerSecond);

    /// <summary>
    /// Bytes paced at once: small enough that a slice at the set rate takes at most about 5 ms (so a transfer's end is
    /// within a few ms of size / rate), never below one TCP segment nor above the pacer's slice.
    /// </summary>
    internal int SliceBytes { get; } = shape.BytesPerSecond == 0 ? RatePacer.SliceBytes
        : (int)Math.Clamp(shape.BytesPerSecond / 200, LinkShape.SegmentBytes, RatePacer.SliceBytes);

    /// <summary><paramref name="inner"/> as seen through this link (the stream is owned and disposed with it).</summary>
    public Stream Wrap(Stream inner) => shape.IsNone ? inner : new ShapedStream(inner, this);
}

/// <summary>
/// A byte stream through a <see cref="ShapedLink"/>. Reads are held to the downlink's rate (a read of n bytes returns
/// once n bytes' time has passed on the shared downlink, so the peer's TCP window fills and it slows, as behind a real
/// bottleneck). Writes are held to the uplink's rate and to the connection's loss-limited rate, then travel for the
/// latency in a bounded queue that a pump drains to the socket in order, so a writer pays the rate but not the latency
/// (as with a real socket's send buffer) and the far side sees every byte one latency later. Owns the inner stream.
/// </summary>
internal sealed class ShapedStream : Stream
{
    /// <summary>
    /// Slices in flight at most: the link's bandwidth-delay product plus a few, as a socket's send buffer holds about
    /// that much; beyond it the writer waits (a receiver that reads slowly slows us, and control frames queue behind
    /// no more than a round trip's worth of data). An unlimited rate with latency is held to 1024 slices (64 MiB).
    /// </summary>
    private static int InFlightSlicesMax(ShapedLink link) => link.Shape.BytesPerSecond == 0 ? 1024
        : (int)Math.Clamp(Math.Ceiling(link.Shape.BytesPerSecond * link.Shape.Latency.TotalSeconds / link.SliceBytes) + 8, 8, 1024);

    private readonly Stream _inner;
    private readonly ShapedLink _link;
    private readonly RatePacer? _flow;   // Mathis' per-connection rate under loss
    private readonly Channel<(byte[] Bytes, long Due)> _inFlight;
    private readonly CancellationTokenSource _closed = new();
    private Task? _pump;
    private volatile Exception? _pumpFailure;

    public ShapedStream(Stream inner, ShapedLink link)
    {
        _inner = inner;
        _link = link;
        _flow = link.Shape.FlowBytesPerSecond > 0 ? new RatePacer(link.Time, link.Shape.FlowBytesPerSecond) : null;
        _inFlight = Channel.CreateBounded<(byte[], long)>(new BoundedChannelOptions(InFlightSlicesMax(link)) { SingleReader = true, SingleWriter = true });
    }

    /// <summary>The wrapped stream.</summary>
    public Stream Inner => _inner;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer[..Math.Min(buffer.Length, _link.SliceBytes)], cancellationToken).ConfigureAwait(false);
        if (n > 0) await Delay(_link.Downlink.Reserve(n).UntilEnd, cancellationToken).ConfigureAwait(false);
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        for (int offset = 0; offset < buffer.Length; offset += _link.SliceBytes)
        {
            if (_pumpFailure is { } failure) throw new IOException("the shaped link's socket failed", failure);
            var slice = buffer.Slice(offset, Math.Min(_link.SliceBytes, buffer.Length - offset));
            var sent = _link.Uplink.Reserve(slice.Length).UntilEnd;
            if (_flow is not null) sent = TimeSpan.FromTicks(Math.Max(sent.Ticks, _flow.Reserve(slice.Length).UntilEnd.Ticks));
            await Delay(sent, linked.Token).ConfigureAwait(false);
            if (_link.Shape.Latency == TimeSpan.Zero)
            {
                await _inner.WriteAsync(slice, cancellationToken).ConfigureAwait(false);
                continue;
            }
            // The bytes have left our uplink; they reach the far side one latency later, behind everything sent before.
            _pump ??= PumpAsync();
            long due = _link.Time.GetTimestamp() + (long)(_link.Shape.Latency.TotalSeconds * _link.Time.TimestampFrequency);
            try { await _inFlight.Writer.WriteAsync((slice.ToArray(), due), linked.Token).ConfigureAwait(false); }
            catch (ChannelClosedException e) { throw new IOException("the shaped link is closed", _pumpFailure ?? e); }
        }
    }

    /// <summary>Writes each slice to the socket when its latency has passed, in the order they were sent.</summary>
    private async Task PumpAsync()
    {
        try
        {
            await foreach (var (bytes, due) in _inFlight.Reader.ReadAllAsync(_closed.Token).ConfigureAwait(false))
            {
                var wait = _link.Time.GetElapsedTime(_link.Time.GetTimestamp(), due);
                await Delay(wait, _closed.Token).ConfigureAwait(false);
                await _inner.WriteAsync(bytes, _closed.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _pumpFailure = e;
            _inFlight.Writer.TryComplete(e);
        }
        catch (OperationCanceledException) { }
        finally
        {
            _inner.Dispose();
        }
    }

    private Task Delay(TimeSpan wait, CancellationToken ct) => wait > TimeSpan.Zero ? Task.Delay(wait, _link.Time, ct) : Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <summary>Slices still travelling are on the wire: flushing does not wait for the latency (a socket's flush would not).</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
    public override void Flush() => _inner.Flush();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Slices already sent still arrive (a socket closed after a write delivers it): the pump writes them at their time
    /// and then closes the socket, giving up after <see cref="CloseLingerMax"/>. Without slices in flight it closes at once.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inFlight.Writer.TryComplete();
            if (_pump is null) _inner.Dispose();
            else _closed.CancelAfter(_link.Shape.Latency + CloseLingerMax);
        }
        base.Dispose(disposing);
    }

    /// <summary>How long a closed stream keeps delivering its slices in flight beyond the latency.</summary>
    private static readonly TimeSpan CloseLingerMax = TimeSpan.FromSeconds(2);
}
