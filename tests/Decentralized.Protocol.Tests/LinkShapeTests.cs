using System.Diagnostics;
using System.Security.Cryptography;
using Decentralized.Protocol.Network;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Tests;

/// <summary>
/// The emulated access link (<c>--link</c>): what it accepts, that a transfer through it takes about size / rate and
/// arrives one latency later, and that a host's connections really go through it. Timing asserts are lower bounds
/// (the link never lets bytes through faster than set) with generous upper bounds for a loaded machine.
/// </summary>
public sealed class LinkShapeTests
{
    [Theory]
    [InlineData("100mbit", 12_500_000L, 0.0, 0.0)]
    [InlineData("100mbit,latency=40ms", 12_500_000L, 40.0, 0.0)]
    [InlineData("1.5gbit,latency=0.25s,loss=0.001", 187_500_000L, 250.0, 0.001)]
    [InlineData("800kbit, loss=0.01, latency=5ms", 100_000L, 5.0, 0.01)]
    [InlineData("unlimited,latency=10ms", 0L, 10.0, 0.0)]
    public void ParsesRateLatencyAndLossAndWritesThemBack(string text, long bytesPerSecond, double latencyMs, double loss)
    {
        var shape = LinkShape.Parse(text);
        Assert.Equal(bytesPerSecond, shape.BytesPerSecond);
        Assert.Equal(TimeSpan.FromMilliseconds(latencyMs), shape.Latency);
        Assert.Equal(loss, shape.Loss);
        Assert.Equal(shape, LinkShape.Parse(shape.ToString()));
    }

    [Theory]
    [InlineData("", "give a rate")]
    [InlineData("100", "needs a unit")]
    [InlineData("100mbps", "needs a unit")]
    [InlineData("-5mbit", "between 1kbit and 1000gbit")]
    [InlineData("nanmbit", "not a number of mbit")]
    [InlineData("5000gbit", "between 1kbit and 1000gbit")]
    [InlineData("10mbit,latency=40", "with ms or s")]
    [InlineData("10mbit,latency=-1ms", "between 0 and 5 s")]
    [InlineData("10mbit,latency=1h", "with ms or s")]
    [InlineData("10mbit,loss=0.5,latency=1ms", "probability between 0 and 0.1")]
    [InlineData("10mbit,loss=0.01", "loss needs a latency")]
    [InlineData("10mbit,jitter=3ms", "unknown part 'jitter=3ms'")]
    [InlineData("10mbit,latency=1ms,latency=2ms", "'latency' given twice")]
    public void RefusesNonsenseWithALineNamingThePart(string text, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => LinkShape.Parse(text));
        Assert.StartsWith("--link ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void LossCapsEachConnectionAtTheMathisRate()
    {
        // MSS / RTT * sqrt(3 / 2p): 1448 B / 0.1 s * sqrt(150) = 177 kB/s for 1% loss at 50 ms one way.
        var shape = LinkShape.Parse("100mbit,latency=50ms,loss=0.01");
        Assert.InRange(shape.FlowBytesPerSecond, 177_000, 177_500);
        Assert.Equal(0, LinkShape.Parse("100mbit,latency=50ms").FlowBytesPerSecond);
    }

    [Fact]
    public void PacerQueuesReservationsBackToBackAtTheRate()
    {
        var clock = new ManualTimeProvider();
        var pacer = new RatePacer(clock, bytesPerSecond: 1000);
        Assert.Equal((TimeSpan.Zero, TimeSpan.FromSeconds(0.5)), pacer.Reserve(500));
        Assert.Equal((TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(2.5)), pacer.Reserve(2000));
        clock.Advance(TimeSpan.FromSeconds(10));   // an idle pipe does not bank capacity for a later burst
        Assert.Equal((TimeSpan.Zero, TimeSpan.FromSeconds(1)), pacer.Reserve(1000));
    }

    [Fact]
    public async Task WritesTakeSizeOverRate()
    {
        // 300 KB at 1 Mbit/s (125 kB/s): 2.4 s.
        var link = new ShapedLink(LinkShape.Parse("1mbit"), TimeProvider.System);
        var (a, b) = DuplexPipe.Create();
        await using var shaped = link.Wrap(a);
        var payload = RandomNumberGenerator.GetBytes(300_000);
        var reading = ReadAllAsync(b, payload.Length);
        var clock = Stopwatch.StartNew();
        await shaped.WriteAsync(payload);
        Assert.Equal(payload, await reading.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.InRange(clock.Elapsed.TotalSeconds, 2.4 * 0.95, 2.4 * 3);
    }

    [Fact]
    public async Task ReadsTakeSizeOverRateWhateverTheSenderDoes()
    {
        var link = new ShapedLink(LinkShape.Parse("1mbit"), TimeProvider.System);
        var (a, b) = DuplexPipe.Create();
        await using var shaped = link.Wrap(b);
        var payload = RandomNumberGenerator.GetBytes(300_000);
        await a.WriteAsync(payload);   // all of it is waiting on our side at once
        var clock = Stopwatch.StartNew();
        Assert.Equal(payload, await ReadAllAsync(shaped, payload.Length).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.InRange(clock.Elapsed.TotalSeconds, 2.4 * 0.95, 2.4 * 3);
    }

    [Fact]
    public async Task BytesArriveOneLatencyLaterWhileTheWriterGoesOn()
    {
        var link = new ShapedLink(LinkShape.Parse("unlimited,latency=300ms"), TimeProvider.System);
        var (a, b) = DuplexPipe.Create();
        await using var shaped = link.Wrap(a);
        var clock = Stopwatch.StartNew();
        var reading = ReadAllAsync(b, 3);
        await shaped.WriteAsync(new byte[] { 1, 2, 3 });
        var written = clock.Elapsed;
        Assert.False(reading.IsCompleted, "the bytes arrived before the latency had passed");
        Assert.Equal(new byte[] { 1, 2, 3 }, await reading.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.3 * 0.95, 3);
        Assert.True(written < clock.Elapsed, $"the write returned after {written}, the bytes arrived after {clock.Elapsed}");
    }

    [Fact]
    public async Task TwoShapedHostsMoveABulkTransferAtTheLinkRateAndPingAcrossTheLatency()
    {
        var shape = LinkShape.Parse("2mbit,latency=50ms");   // 250 kB/s each way; 100 ms round trip
        await using var a = await HostFixture.StartAsync(1, o => o with { Link = shape });
        await using var b = await HostFixture.StartAsync(2, o => o with { Link = shape });
        var received = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        b.SetStreamHandler("/test/bulk/1.0.0", async (peer, stream, ct) =>
        {
            var buffer = new byte[64 << 10];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0) total += n;
            received.TrySetResult(total);
        });
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        var rtt = await a.PingAsync(b.LocalPeer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.InRange(rtt.TotalSeconds, 0.1 * 0.95, 5);

        const int Bytes = 500_000;   // 2 s at 250 kB/s
        var clock = Stopwatch.StartNew();
        await using (var stream = await a.OpenStreamAsync(b.LocalPeer, "/test/bulk/1.0.0", CancellationToken.None))
        {
            await stream.WriteAsync(new byte[Bytes]);
            await stream.CloseWriteAsync();
            Assert.Equal(Bytes, await received.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        Assert.InRange(clock.Elapsed.TotalSeconds, 2.0 * 0.95, 2.0 * 4);
    }

    [Fact]
    public async Task AStreamOpenedBehindTwelveSecondsOfBulkDataStillOpens()
    {
        // 100 KB at 64 kbit/s hold B's side of the connection for 12.5 s, past the 10 s stream negotiation timeout a
        // real-rate link never comes near: B's answer to A's new stream waits behind them. The link's queueing
        // allowance keeps such a stream from timing out (without it, updates sent while others flow were lost).
        var shape = LinkShape.Parse("64kbit");
        await using var a = await HostFixture.StartAsync(1, o => o with { Link = shape });
        await using var b = await HostFixture.StartAsync(2, o => o with { Link = shape });
        var bulkDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.SetStreamHandler("/test/sink/1.0.0", async (peer, stream, ct) =>
        {
            var buffer = new byte[16 << 10];
            while (await stream.ReadAsync(buffer, ct) > 0) { }
            bulkDone.TrySetResult();
        });
        b.SetStreamHandler("/test/echo/1.0.0", async (peer, stream, ct) =>
        {
            var one = new byte[1];
            await stream.ReadExactlyAsync(one, ct);
            await stream.WriteAsync(one, ct);
            await stream.CloseWriteAsync(ct);
        });
        await a.DialAsync(b.ListenAddresses[0], CancellationToken.None);
        // B registers the inbound connection once its side of the gate is done, a moment after A returns.
        for (var waited = Stopwatch.StartNew(); !b.ConnectedPeers.Contains(a.LocalPeer); await Task.Delay(50))
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "B never saw the connection A dialled");
        await using var bulk = await b.OpenStreamAsync(a.LocalPeer, "/test/sink/1.0.0", CancellationToken.None);
        var sending = bulk.WriteAsync(new byte[100_000]).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(1));   // B's bulk write now holds its side of the connection
        var clock = Stopwatch.StartNew();
        await using (var echo = await a.OpenStreamAsync(b.LocalPeer, "/test/echo/1.0.0", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)))
        {
            await echo.WriteAsync(new byte[] { 7 });
            var back = new byte[1];
            await echo.ReadExactlyAsync(back).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(7, back[0]);
        }
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(5), $"the new stream opened after {clock.Elapsed}: it did not wait behind the bulk data, so this test shows nothing");
        await sending;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, int length)
    {
        var bytes = new byte[length];
        await stream.ReadExactlyAsync(bytes);
        return bytes;
    }
}
