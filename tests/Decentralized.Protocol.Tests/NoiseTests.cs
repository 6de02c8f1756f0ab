using System.Buffers.Binary;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Noise;

namespace Decentralized.Protocol.Tests;

public sealed class NoiseTests
{
    private static PrivateKey Key(byte fill) => PrivateKey.FromSeed(Enumerable.Repeat(fill, 32).ToArray());

    private static async Task<(NoiseResult Initiator, NoiseResult Responder)> HandshakeAsync(PrivateKey a, PrivateKey b, PeerId? expected = null)
    {
        var (pa, pb) = DuplexPipe.Create();
        var responder = NoiseHandshake.RunAsync(pb, b, isInitiator: false, null, ["/yamux/1.0.0"], CancellationToken.None);
        var initiator = await NoiseHandshake.RunAsync(pa, a, isInitiator: true, expected, ["/yamux/1.0.0"], CancellationToken.None);
        return (initiator, await responder);
    }

    [Fact]
    public async Task HandshakeAuthenticatesBothSidesAndCarriesMuxers()
    {
        var (i, r) = await HandshakeAsync(Key(1), Key(2), Key(2).PeerId);
        Assert.Equal(Key(2).PeerId, i.RemotePeer);
        Assert.Equal(Key(1).PeerId, r.RemotePeer);
        Assert.Equal(["/yamux/1.0.0"], i.RemoteMuxers);
        Assert.Equal(["/yamux/1.0.0"], r.RemoteMuxers);
    }

    [Fact]
    public async Task TransportCarriesLargeAndSmallWritesIntactBothWays()
    {
        var (i, r) = await HandshakeAsync(Key(1), Key(2));
        var data = new byte[300_000];
        new Random(7).NextBytes(data);
        var reader = Task.Run(async () =>
        {
            var received = new byte[data.Length + 3];
            await r.Stream.ReadExactlyAsync(received);
            return received;
        });
        await i.Stream.WriteAsync(new byte[] { 1, 2, 3 });
        await i.Stream.WriteAsync(data);
        await i.Stream.FlushAsync();
        var got = await reader;
        Assert.Equal(new byte[] { 1, 2, 3 }, got[..3]);
        Assert.Equal(data, got[3..]);

        await r.Stream.WriteAsync("pong"u8.ToArray());
        await r.Stream.FlushAsync();
        var pong = new byte[4];
        await i.Stream.ReadExactlyAsync(pong);
        Assert.Equal("pong"u8.ToArray(), pong);
    }

    [Fact]
    public async Task DialingTheWrongPeerIdFails()
    {
        var error = await Assert.ThrowsAsync<ProtocolException>(() => HandshakeAsync(Key(1), Key(2), Key(3).PeerId));
        Assert.Equal(ProtocolErrorCode.PeerIdMismatch, error.Code);
    }

    [Fact]
    public void HandshakeMessagesHaveTheDocumentedSizes()
    {
        using var initiator = new NoiseHandshakeState(true, NoiseHandshakeState.GenerateStaticKey());
        using var responder = new NoiseHandshakeState(false, NoiseHandshakeState.GenerateStaticKey());
        var a = initiator.WriteMessage([]);
        responder.ReadMessage(a);
        var payloadB = NoiseHandshake.BuildPayload(Key(2), responder.LocalStaticPublicKey, ["/yamux/1.0.0"]);
        Assert.Equal(120, payloadB.Length);
        var b = responder.WriteMessage(payloadB);
        initiator.ReadMessage(b);
        var payloadC = NoiseHandshake.BuildPayload(Key(1), initiator.LocalStaticPublicKey, ["/yamux/1.0.0"]);
        var c = initiator.WriteMessage(payloadC);
        responder.ReadMessage(c);
        Assert.Equal((32, 216, 184), (a.Length, b.Length, c.Length));
        Assert.True(initiator.HandshakeHash.SequenceEqual(responder.HandshakeHash));
        Assert.True(initiator.RemoteStaticPublicKey.SequenceEqual(responder.LocalStaticPublicKey));
    }

    [Fact]
    public async Task TamperedFrameFailsAuthentication()
    {
        var (i, r) = await HandshakeAsync(Key(1), Key(2));
        // Re-encrypt a frame by hand, flip one ciphertext bit, and feed it to a fresh reader with the same keys.
        var (send, receive) = CreateCipherPair();
        var frame = new byte[2 + 5 + 16];
        BinaryPrimitives.WriteUInt16BigEndian(frame, 21);
        send.Encrypt([], "hello"u8, frame.AsSpan(2));
        frame[4] ^= 0x01;
        using var tampered = new NoiseSecureStream(new MemoryStream(frame), new NoiseCipherState(), receive);
        var error = await Assert.ThrowsAsync<ProtocolException>(async () => await tampered.ReadExactlyAsync(new byte[5]));
        Assert.Equal(ProtocolErrorCode.DecryptionFailed, error.Code);
        i.Stream.Dispose();
        r.Stream.Dispose();
    }

    [Fact]
    public async Task BulkWriteBehindAHeaderGoesOutAsOneTopUpFrameThenFullFrames()
    {
        // A Yamux header (12 bytes) staged ahead of a 64 KiB payload: the payload's remainder modulo a full frame (17
        // bytes) tops up the header's frame, and the rest is sealed from the caller's memory as one full frame.
        var (send, receive) = CreateCipherPair();
        var wire = new MemoryStream();
        var header = Enumerable.Range(0, 12).Select(i => (byte)i).ToArray();
        var payload = new byte[65536];
        new Random(3).NextBytes(payload);
        await using (var writer = new NoiseSecureStream(wire, send, new NoiseCipherState(), leaveOpen: true))
        {
            await writer.WriteAsync(header);
            await writer.WriteAsync(payload);
            await writer.FlushAsync();
        }
        Assert.Equal([12 + 17 + 16, NoiseSecureStream.MaxFrameLength], FrameLengths(wire.ToArray()));
        var received = new byte[header.Length + payload.Length];
        await using var reader = new NoiseSecureStream(new MemoryStream(wire.ToArray()), new NoiseCipherState(), receive);
        await reader.ReadExactlyAsync(received);
        Assert.Equal([.. header, .. payload], received);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task WritesOfEverySizeAroundTheFrameBoundaryRoundTrip(int seed)
    {
        // Random small and bulk writes (around multiples of the 65,519-byte frame) with random flushes: every byte
        // arrives in order and every frame stays within the Noise limit.
        var random = new Random(seed);
        int[] sizes = [0, 1, 3, 12, 29, 65_518, 65_519, 65_520, 65_536, 131_037, 131_038, 131_039, 200_000, 262_144];
        var (send, receive) = CreateCipherPair();
        var wire = new MemoryStream();
        var sent = new MemoryStream();
        await using (var writer = new NoiseSecureStream(wire, send, new NoiseCipherState(), leaveOpen: true))
        {
            for (var i = 0; i < 40; i++)
            {
                var chunk = new byte[sizes[random.Next(sizes.Length)]];
                random.NextBytes(chunk);
                sent.Write(chunk);
                await writer.WriteAsync(chunk);
                if (random.Next(3) == 0)
                {
                    await writer.FlushAsync();
                }
            }
            await writer.FlushAsync();
        }
        var lengths = FrameLengths(wire.ToArray());
        Assert.All(lengths, length => Assert.InRange(length, NoiseCipherState.TagSize + 1, NoiseSecureStream.MaxFrameLength));
        var received = new byte[sent.Length];
        await using var reader = new NoiseSecureStream(new MemoryStream(wire.ToArray()), new NoiseCipherState(), receive);
        await reader.ReadExactlyAsync(received);
        Assert.True(sent.ToArray().AsSpan().SequenceEqual(received), $"seed {seed}: plaintext differs after the round trip");
        Assert.Equal(0, await reader.ReadAsync(new byte[1]));
    }

    /// <summary>The ciphertext lengths of the u16-prefixed frames in <paramref name="wire"/>.</summary>
    private static List<int> FrameLengths(byte[] wire)
    {
        var lengths = new List<int>();
        for (var offset = 0; offset < wire.Length; offset += 2 + lengths[^1])
        {
            lengths.Add(BinaryPrimitives.ReadUInt16BigEndian(wire.AsSpan(offset)));
        }
        return lengths;
    }

    private static (NoiseCipherState, NoiseCipherState) CreateCipherPair()
    {
        var key = Enumerable.Range(0, 32).Select(x => (byte)x).ToArray();
        var send = new NoiseCipherState();
        var receive = new NoiseCipherState();
        send.InitializeKey(key);
        receive.InitializeKey(key);
        return (send, receive);
    }
}
