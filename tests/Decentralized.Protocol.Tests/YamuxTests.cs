using System.Security.Cryptography;
using Decentralized.Protocol.Yamux;

namespace Decentralized.Protocol.Tests;

public sealed class YamuxTests
{
    private static readonly YamuxOptions Quiet = new() { KeepAliveInterval = null };

    private static (YamuxSession Client, YamuxSession Server) CreatePair(YamuxOptions? serverOptions = null)
    {
        var (a, b) = DuplexPipe.Create();
        var client = new YamuxSession(a, isClient: true, Quiet);
        var server = new YamuxSession(b, isClient: false, serverOptions ?? Quiet);
        client.Start();
        server.Start();
        return (client, server);
    }

    [Fact]
    public async Task StreamsEchoAndHalfCloseDeliversEndOfStream()
    {
        var (client, server) = CreatePair();
        var echo = Task.Run(async () =>
        {
            await using var s = await server.AcceptStreamAsync();
            var request = new MemoryStream();
            await s.CopyToAsync(request);
            await s.WriteAsync(request.ToArray());
            await s.CloseWriteAsync();
        });
        await using var stream = client.OpenStream();
        Assert.Equal(1u, stream.Id);
        await stream.WriteAsync("hello yamux"u8.ToArray());
        await stream.CloseWriteAsync();
        var response = new MemoryStream();
        await stream.CopyToAsync(response);
        await echo;
        Assert.Equal("hello yamux"u8.ToArray(), response.ToArray());
    }

    [Fact]
    public async Task WriterStopsAtTheWindowUntilTheReaderConsumes()
    {
        var (client, server) = CreatePair();
        var stream = client.OpenStream();
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        var write = stream.WriteAsync(data).AsTask();
        var accepted = await server.AcceptStreamAsync();
        // Only the 256 KiB initial window may be in flight while nobody reads.
        var finished = await Task.WhenAny(write, Task.Delay(300));
        Assert.NotSame(write, finished);
        var received = new byte[data.Length];
        await accepted.ReadExactlyAsync(received);
        await write;
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task ReceiveWindowGrowsForAFastReaderUpToTheLimit()
    {
        var (client, server) = CreatePair();
        var stream = client.OpenStream();
        var payload = new byte[24 << 20];
        var write = Task.Run(async () =>
        {
            await stream.WriteAsync(payload);
            await stream.CloseWriteAsync();
        });
        var accepted = await server.AcceptStreamAsync();
        var buffer = new byte[1 << 20];
        long total = 0;
        int n;
        while ((n = await accepted.ReadAsync(buffer)) > 0)
        {
            total += n;
        }
        await write;
        Assert.Equal(payload.Length, total);
        Assert.True(accepted.ReceiveWindow > YamuxOptions.InitialWindowBytes, $"window stayed at {accepted.ReceiveWindow}");
        Assert.True(accepted.ReceiveWindow <= Quiet.MaxStreamWindowBytes);
    }

    [Fact]
    public async Task ManyConcurrentStreamsStayIndependent()
    {
        var (client, server) = CreatePair();
        var serve = Task.Run(async () =>
        {
            var handlers = new List<Task>();
            for (var i = 0; i < 40; i++)
            {
                var s = await server.AcceptStreamAsync();
                handlers.Add(Task.Run(async () =>
                {
                    await using (s)
                    {
                        var copy = new MemoryStream();
                        await s.CopyToAsync(copy);
                        await s.WriteAsync(copy.ToArray());
                    }
                }));
            }
            await Task.WhenAll(handlers);
        });
        var clients = Enumerable.Range(0, 40).Select(async i =>
        {
            await using var s = client.OpenStream();
            var data = new byte[10_000 + i * 997];
            new Random(i).NextBytes(data);
            await s.WriteAsync(data);
            await s.CloseWriteAsync();
            var back = new MemoryStream();
            await s.CopyToAsync(back);
            Assert.Equal(data, back.ToArray());
        });
        await Task.WhenAll(clients);
        await serve;
    }

    [Fact]
    public async Task PingIsAnsweredWithTheSameOpaqueValue()
    {
        var (raw, server) = CreateRawClient();
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 0xC0FFEE));
        var answer = await ReadFrame(raw);
        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 0xC0FFEE), answer);
        Assert.False(server.IsClosed);
    }

    [Fact]
    public async Task SendingPastTheWindowIsAFlowControlViolation()
    {
        var (raw, server) = CreateRawClient();
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0));
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 300 * 1024), new byte[300 * 1024]);
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProtocolErrorCode.FlowControlViolation, Assert.IsType<ProtocolException>(server.CloseReason).Code);
        var goAway = await ReadFramesUntil(raw, YamuxFrameType.GoAway);
        Assert.Equal((uint)YamuxGoAwayCode.ProtocolError, goAway.Length);
    }

    [Fact]
    public async Task StreamIdWithTheWrongParityClosesTheSession()
    {
        var (raw, server) = CreateRawClient();
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0));
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProtocolErrorCode.MuxerProtocolError, Assert.IsType<ProtocolException>(server.CloseReason).Code);
    }

    [Fact]
    public async Task BeforeTheGateAPeerGetsAFewStreamsAndCannotParkFullWindowsInThem()
    {
        // Issue 26 item 1: 256 streams x 256 KiB unread used to be accepted from anyone who had finished Noise.
        var (raw, server) = CreateRawClient(untrusted: true);
        for (uint id = 1; id <= 2 * 12 - 1; id += 2)
        {
            await WriteFrame(raw, new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        }
        // The ninth stream is refused: only a handful may exist before the gate passes.
        var reset = await ReadFramesUntil(raw, YamuxFrameType.WindowUpdate, h => (h.Flags & YamuxFlags.Rst) != 0);
        Assert.Equal(2u * 9 - 1, reset.StreamId);
        Assert.False(server.IsClosed);
        // Data on refused streams is skipped, never buffered; data nobody reads on accepted ones is bounded in total.
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 2 * 9 - 1, 64 * 1024), new byte[64 * 1024]);
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 64 * 1024), new byte[64 * 1024]);
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 3, 64 * 1024), new byte[64 * 1024]);
        Assert.False(server.IsClosed);
        await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 5, 1), new byte[1]);
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProtocolErrorCode.ResourceExhausted, Assert.IsType<ProtocolException>(server.CloseReason).Code);
    }

    [Fact]
    public async Task OnceTrustedTheFullWindowsAndStreamLimitsApply()
    {
        var (raw, server) = CreateRawClient(untrusted: true);
        server.Trust();
        for (uint id = 1; id <= 2 * 20 - 1; id += 2)
        {
            await WriteFrame(raw, new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
            await WriteFrame(raw, new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, id, 200 * 1024), new byte[200 * 1024]);
        }
        for (int i = 0; i < 20; i++)
        {
            var stream = await server.AcceptStreamAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            var received = new byte[200 * 1024];
            await stream.ReadExactlyAsync(received);
        }
        Assert.False(server.IsClosed);
    }

    [Fact]
    public async Task StreamsBeyondTheInboundLimitAreReset()
    {
        var (raw, server) = CreateRawClient(Quiet with { MaxInboundStreams = 2 });
        for (uint id = 1; id <= 5; id += 2)
        {
            await WriteFrame(raw, new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0));
        }
        var reset = await ReadFramesUntil(raw, YamuxFrameType.WindowUpdate, h => (h.Flags & YamuxFlags.Rst) != 0);
        Assert.Equal(5u, reset.StreamId);
        Assert.False(server.IsClosed);
    }

    [Fact]
    public async Task ClosingSendsGoAwayAndFailsOpenStreams()
    {
        var (client, server) = CreatePair();
        var stream = client.OpenStream();
        await stream.WriteAsync(new byte[] { 1 });
        var accepted = await server.AcceptStreamAsync();
        await client.CloseAsync();
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(YamuxGoAwayCode.Normal, server.RemoteGoAwayCode);
        await Assert.ThrowsAnyAsync<IOException>(async () => await stream.WriteAsync(new byte[] { 2 }));
        Assert.NotNull(accepted);
    }

    [Fact]
    public async Task KeepAlivePingsAndClosesAPeerThatNeverAnswers()
    {
        var clock = new ManualTimeProvider();
        var (a, b) = DuplexPipe.Create();
        var session = new YamuxSession(b, isClient: false, new YamuxOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) }, clock);
        session.Start();
        // Like js: one ping at once, then one per interval.
        var first = await ReadFrame(a);
        Assert.Equal((YamuxFrameType.Ping, YamuxFlags.Syn), (first.Type, first.Flags));
        await WriteFrame(a, new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, first.Length));
        // The answer is processed on the session's read loop; the fake clock must not tick before that.
        for (var i = 0; i < 5000 && session.RoundTripTime is null; i++)
        {
            await Task.Delay(1);
        }
        clock.Advance(TimeSpan.FromSeconds(30));
        var second = await ReadFrame(a);
        Assert.Equal(YamuxFrameType.Ping, second.Type);
        Assert.NotNull(session.RoundTripTime);
        Assert.False(session.IsClosed);
        clock.Advance(TimeSpan.FromSeconds(30)); // second ping never answered
        await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProtocolErrorCode.Timeout, Assert.IsType<ProtocolException>(session.CloseReason).Code);
    }

    [Fact]
    public void HeaderRoundTripsAndRejectsBadFields()
    {
        var bytes = new byte[12];
        new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn | YamuxFlags.Fin, 7, 1234).Write(bytes);
        Assert.Equal("00000005000000070000" + "04d2", Convert.ToHexStringLower(bytes));
        Assert.Equal(new YamuxHeader(YamuxFrameType.Data, YamuxFlags.Syn | YamuxFlags.Fin, 7, 1234), YamuxHeader.Read(bytes));
        foreach (var bad in new[] { "010000000000000100000000", "000400000000000100000000", "000200030000000000000000", "000000010000000000000000" })
        {
            Assert.Equal(ProtocolErrorCode.MuxerProtocolError, Assert.Throws<ProtocolException>(() => YamuxHeader.Read(Convert.FromHexString(bad))).Code);
        }
    }

    private static (DuplexPipe Raw, YamuxSession Server) CreateRawClient(YamuxOptions? options = null, bool untrusted = false)
    {
        var (a, b) = DuplexPipe.Create();
        var server = new YamuxSession(b, isClient: false, options ?? Quiet, untrusted: untrusted);
        server.Start();
        return (a, server);
    }

    private static async Task WriteFrame(Stream raw, YamuxHeader header, byte[]? payload = null)
    {
        var bytes = new byte[12 + (payload?.Length ?? 0)];
        header.Write(bytes);
        payload?.CopyTo(bytes, 12);
        await raw.WriteAsync(bytes);
        await raw.FlushAsync();
    }

    private static async Task<YamuxHeader> ReadFrame(Stream raw)
    {
        var bytes = new byte[12];
        await raw.ReadExactlyAsync(bytes).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var header = YamuxHeader.Read(bytes);
        if (header.Type == YamuxFrameType.Data && header.Length > 0)
        {
            await raw.ReadExactlyAsync(new byte[header.Length]);
        }
        return header;
    }

    private static async Task<YamuxHeader> ReadFramesUntil(Stream raw, YamuxFrameType type, Func<YamuxHeader, bool>? match = null)
    {
        for (var i = 0; i < 100; i++)
        {
            var header = await ReadFrame(raw);
            if (header.Type == type && (match?.Invoke(header) ?? true))
            {
                return header;
            }
        }
        throw new Xunit.Sdk.XunitException($"no {type} frame in 100 frames");
    }
}
