using System.Buffers.Binary;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Noise;
using Decentralized.Protocol.Yamux;

namespace Decentralized.Protocol.Tests;

/// <summary>
/// Bounded fuzzing of every decoder that sees network bytes: mutated valid samples and random bytes must either decode
/// or fail with <see cref="ProtocolException"/>; any other exception (or a hang) is a bug. Seeds are fixed, and a failure
/// message carries the seed, the iteration and the input in hex so it can become a regression test.
/// </summary>
public sealed class FuzzTests
{
    private const int Iterations = 2000;

    private static readonly PrivateKey Key = PrivateKey.FromSeed(Convert.FromHexString("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"));

    [Theory]
    [InlineData(101)]
    public void MultistreamDecoder(int seed)
    {
        byte[][] samples = [MultistreamCodec.Encode(MultistreamCodec.ProtocolId, "/noise"), MultistreamCodec.Encode("na"), MultistreamCodec.Encode("/yamux/1.0.0")];
        Run(seed, samples, input =>
        {
            var offset = 0;
            while (offset < input.Length && MultistreamCodec.TryDecode(input.AsSpan(offset), 1024, out _, out var consumed))
            {
                offset += consumed;
            }
        });
    }

    [Theory]
    [InlineData(202)]
    public void ProtobufDecoders(int seed)
    {
        var identify = new IdentifyMessage
        {
            ProtocolVersion = "ipfs/0.1.0", AgentVersion = "x", PublicKey = Key.PublicKey, Protocols = ["/a", "/b"],
            ListenAddresses = [Multiaddr.Parse("/ip4/1.2.3.4/tcp/5"), Multiaddr.Parse("/dns4/example.com/tcp/443")],
            ObservedAddress = Multiaddr.Parse($"/ip6/::1/tcp/7/p2p/{Key.PeerId}"),
        }.Encode();
        var payload = NoiseHandshake.BuildPayload(Key, new byte[32], ["/yamux/1.0.0"]);
        byte[][] samples = [identify, payload, Key.PublicKey.ToProtobuf(), Key.ToProtobuf(), Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{Key.PeerId}").ToBytes()];
        Run(seed, samples, input =>
        {
            Swallow(() => IdentifyMessage.Decode(input));
            Swallow(() => NoiseHandshakePayload.Decode(input));
            Swallow(() => PublicKey.FromProtobuf(input));
            Swallow(() => PrivateKey.FromProtobuf(input));
            Swallow(() => Multiaddr.FromBytes(input));
            Swallow(() => PeerId.FromMultihash(input));
            Swallow(() => PeerId.Parse(System.Text.Encoding.Latin1.GetString(input)));
            Swallow(() => Multiaddr.Parse("/" + System.Text.Encoding.Latin1.GetString(input)));
        });
    }

    [Theory]
    [InlineData(303)]
    public async Task NoiseFrameDecoder(int seed)
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var sample = EncryptFrames(key, [new byte[100], new byte[5000], []]);
        await RunAsync(seed, [sample], async input =>
        {
            var receive = new NoiseCipherState();
            receive.InitializeKey(key);
            using var stream = new NoiseSecureStream(new MemoryStream(input), new NoiseCipherState(), receive);
            var buffer = new byte[4096];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        });
    }

    [Theory]
    [InlineData(404)]
    public void NoiseHandshakeMessages(int seed)
    {
        using var responder = new NoiseHandshakeState(false, NoiseHandshakeState.GenerateStaticKey());
        using var initiator = new NoiseHandshakeState(true, NoiseHandshakeState.GenerateStaticKey());
        var a = initiator.WriteMessage([]);
        responder.ReadMessage(a);
        var b = responder.WriteMessage(NoiseHandshake.BuildPayload(Key, responder.LocalStaticPublicKey, ["/yamux/1.0.0"]));
        Run(seed, [b], input =>
        {
            using var fresh = new NoiseHandshakeState(true, NoiseHandshakeState.GenerateStaticKey());
            fresh.WriteMessage([]);
            NoiseHandshakePayload.Decode(fresh.ReadMessage(input));
        });
    }

    [Theory]
    [InlineData(505)]
    public async Task YamuxFrameDecoder(int seed)
    {
        var sample = YamuxFrames(
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0),
            new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 8),
            new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 3),
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 1, 100),
            new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0));
        var options = new YamuxOptions { KeepAliveInterval = null };
        await RunAsync(seed, [sample], async input =>
        {
            var session = new YamuxSession(new FuzzTransport(input), isClient: true, options);
            session.Start();
            _ = DrainAcceptedAsync(session);
            await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            if (session.CloseReason is not ProtocolException)
            {
                throw new InvalidOperationException($"session ended with {session.CloseReason?.GetType().Name}", session.CloseReason);
            }
        });
    }

    private static async Task DrainAcceptedAsync(YamuxSession session)
    {
        try
        {
            while (true)
            {
                var stream = await session.AcceptStreamAsync();
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await stream.CopyToAsync(Stream.Null);
                    }
                    catch (ProtocolException)
                    {
                    }
                });
            }
        }
        catch (ProtocolException)
        {
        }
    }

    internal static void Run(int seed, byte[][] samples, Action<byte[]> target)
        => RunAsync(seed, samples, input => { target(input); return Task.CompletedTask; }).GetAwaiter().GetResult();

    internal static async Task RunAsync(int seed, byte[][] samples, Func<byte[], Task> target)
    {
        var random = new Random(seed);
        for (var i = 0; i < Iterations; i++)
        {
            var input = Mutate(random, samples[random.Next(samples.Length)]);
            try
            {
                await target(input);
            }
            catch (ProtocolException)
            {
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} iteration {i}: {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(input)}\n{e}");
            }
        }
    }

    private static byte[] Mutate(Random random, byte[] sample)
    {
        var data = new List<byte>(sample);
        var mutations = random.Next(1, 5);
        for (var m = 0; m < mutations; m++)
        {
            switch (random.Next(6))
            {
                case 0 when data.Count > 0:
                    data[random.Next(data.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[random.Next(data.Count)] = (byte)random.Next(256);
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(random.Next(data.Count), 1);
                    break;
                case 3:
                    data.Insert(random.Next(data.Count + 1), (byte)random.Next(256));
                    break;
                case 4 when data.Count > 0:
                    data.RemoveRange(random.Next(data.Count), data.Count - random.Next(data.Count) > 0 ? 1 : 0);
                    data = data.Take(random.Next(data.Count + 1)).ToList();
                    break;
                default:
                    var noise = new byte[random.Next(1, 64)];
                    random.NextBytes(noise);
                    data = random.Next(4) == 0 ? [.. noise] : [.. data, .. noise];
                    break;
            }
        }
        return [.. data];
    }

    internal static void Swallow(Action action)
    {
        try
        {
            action();
        }
        catch (ProtocolException)
        {
        }
    }

    private static byte[] EncryptFrames(byte[] key, byte[][] plaintexts)
    {
        using var send = new NoiseCipherState();
        send.InitializeKey(key);
        var output = new List<byte>();
        foreach (var plaintext in plaintexts)
        {
            var frame = new byte[2 + plaintext.Length + 16];
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(plaintext.Length + 16));
            send.Encrypt([], plaintext, frame.AsSpan(2));
            output.AddRange(frame);
        }
        return [.. output];
    }

    private static byte[] YamuxFrames(params YamuxHeader[] headers)
    {
        var output = new List<byte>();
        foreach (var header in headers)
        {
            var bytes = new byte[12];
            header.Write(bytes);
            output.AddRange(bytes);
            if (header.Type == YamuxFrameType.Data)
            {
                output.AddRange(new byte[header.Length]);
            }
        }
        return [.. output];
    }

    /// <summary>Reads the fuzz input, then end of stream; swallows writes.</summary>
    private sealed class FuzzTransport(byte[] input) : Stream
    {
        private readonly MemoryStream _input = new(input);
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) { }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
