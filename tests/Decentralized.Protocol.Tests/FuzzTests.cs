using System.Buffers.Binary;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Dcutr;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Noise;
using Decentralized.Protocol.Relay;
using Decentralized.Protocol.Yamux;
using Decentralized.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Decentralized.Protocol.Tests;

/// <summary>
/// Fuzzing of every protocol decoder that sees network or disk bytes, through the shared <see cref="Fuzzer"/>: each
/// input must decode or fail with <see cref="ProtocolException"/>, quickly and within the allocation bound. The
/// default suite runs a few thousand inputs per decoder; the <c>Slow</c> category runs <see cref="Fuzzer.SlowInputs"/>.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private static readonly PrivateKey Key = PrivateKey.FromSeed(Convert.FromHexString("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"));
    private static readonly PeerId Peer = PrivateKey.FromSeed(Enumerable.Repeat((byte)3, 32).ToArray()).PeerId;
    private static readonly Type[] Refused = [typeof(ProtocolException)];

    public static TheoryData<string> Names => new(Targets.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Decoder(string name) => Fuzzer.CheckShort(Targets[name](), output);

    [Theory]
    [MemberData(nameof(Names))]
    [Trait("Category", "Slow")]
    public void DecoderAtScale(string name) => Fuzzer.CheckAtScale(Targets[name](), output);

    private static readonly Dictionary<string, Func<FuzzTarget>> Targets = new()
    {
        ["multistream"] = () => new("multistream", [MultistreamCodec.Encode(MultistreamCodec.ProtocolId, "/noise"), MultistreamCodec.Encode("na"), MultistreamCodec.Encode("/yamux/1.0.0")], input =>
        {
            var offset = 0;
            while (offset < input.Length && MultistreamCodec.TryDecode(input.AsSpan(offset), 1024, out _, out var consumed)) offset += consumed;
        }, Refused),
        ["identify"] = () => new("identify", [IdentifySample(), new IdentifyMessage { AgentVersion = "y", Protocols = ["/ipfs/ping/1.0.0"] }.Encode()], input => IdentifyMessage.Decode(input), Refused),
        ["noise payload"] = () => new("noise payload", [NoiseHandshake.BuildPayload(Key, new byte[32], ["/yamux/1.0.0"])], input => NoiseHandshakePayload.Decode(input), Refused),
        ["public key"] = () => new("public key", [Key.PublicKey.ToProtobuf()], input => PublicKey.FromProtobuf(input), Refused),
        ["private key (identity file)"] = () => new("private key (identity file)", [Key.ToProtobuf()], input => PrivateKey.FromProtobuf(input), Refused),
        ["multiaddr"] = () => new("multiaddr", [Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{Key.PeerId}").ToBytes(), Multiaddr.Parse("/dns4/example.com/tcp/443").ToBytes(),
            Multiaddr.Parse("/ip6/::1/udp/7/quic-v1").ToBytes()], input => Multiaddr.FromBytes(input), Refused),
        ["peer id"] = () => new("peer id", [Key.PeerId.ToByteArray(), Peer.ToByteArray()], input => PeerId.FromMultihash(input), Refused),
        ["peer id text"] = () => new("peer id text", [System.Text.Encoding.Latin1.GetBytes(Key.PeerId.ToString())], input => PeerId.Parse(System.Text.Encoding.Latin1.GetString(input)), Refused),
        ["multiaddr text"] = () => new("multiaddr text", [System.Text.Encoding.Latin1.GetBytes($"/ip4/1.2.3.4/tcp/5/p2p/{Key.PeerId}"), "/ip6/::1/tcp/7"u8.ToArray(), "/dns4/a.example/tcp/443"u8.ToArray()],
            input => Multiaddr.Parse(System.Text.Encoding.Latin1.GetString(input)), Refused),
        ["noise frames"] = NoiseFrames,
        ["noise message 2"] = NoiseMessage2,
        ["noise message 3"] = NoiseMessage3,
        ["yamux"] = Yamux,
        ["autonat"] = () => new("autonat",
        [
            AutoNatMessage.DialRequest(new PeerAddressInfo(Peer, [Multiaddr.Parse("/ip4/198.51.100.7/tcp/4001")])).Encode(),
            AutoNatMessage.DialResponse(AutoNatStatus.Ok, "ok", Multiaddr.Parse("/ip4/198.51.100.7/tcp/4001")).Encode(),
        ], input => AutoNatMessage.Decode(input), Refused),
        ["relay hop"] = () => new("relay hop", RelaySeeds()[..2], input => HopMessage.Decode(input), Refused),
        ["relay stop"] = () => new("relay stop", RelaySeeds()[2..], input => StopMessage.Decode(input), Refused),
        ["dcutr"] = () => new("dcutr",
        [
            new HolePunchMessage(HolePunchType.Connect, [Multiaddr.Parse("/ip4/203.0.113.21/tcp/4001"), Multiaddr.Parse("/ip6/2001:db8::1/tcp/4001")]).Encode(),
            new HolePunchMessage(HolePunchType.Sync, []).Encode(),
        ], input => HolePunchMessage.Decode(input), Refused),
    };

    private static byte[] IdentifySample() => new IdentifyMessage
    {
        ProtocolVersion = "ipfs/0.1.0", AgentVersion = "x", PublicKey = Key.PublicKey, Protocols = ["/a", "/b"],
        ListenAddresses = [Multiaddr.Parse("/ip4/1.2.3.4/tcp/5"), Multiaddr.Parse("/dns4/example.com/tcp/443")],
        ObservedAddress = Multiaddr.Parse($"/ip6/::1/tcp/7/p2p/{Key.PeerId}"),
    }.Encode();

    private static byte[][] RelaySeeds() =>
    [
        new HopMessage(HopMessageType.Status, new PeerAddressInfo(Peer, [Multiaddr.Parse("/ip4/1.2.3.4/tcp/1")]),
            new RelayReservation(5, [Multiaddr.Parse($"/ip4/203.0.113.1/tcp/4001/p2p/{Peer}")], [1, 2]), new RelayLimit(1, 2), RelayStatus.Ok).Encode(),
        new HopMessage(HopMessageType.Connect, new PeerAddressInfo(Peer, []), null, null, null).Encode(),
        new StopMessage(StopMessageType.Connect, new PeerAddressInfo(Peer, []), new RelayLimit(60, 1000)).Encode(),
    ];

    private static FuzzTarget NoiseFrames()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        return new("noise frames", [EncryptFrames(key, [new byte[100], new byte[5000], []])], input =>
        {
            var receive = new NoiseCipherState();
            receive.InitializeKey(key);
            using var stream = new NoiseSecureStream(new MemoryStream(input), new NoiseCipherState(), receive);
            var buffer = new byte[4096];
            while (stream.Read(buffer) > 0)
            {
            }
        }, Refused) { ShortInputs = 1000 };
    }

    // Fixed static and ephemeral keys make the handshake reproducible, so the seeds are the real messages 2 and 3.
    // Copies go in: a handshake state wipes the ephemeral key it was given when disposed.
    private static readonly byte[] InitiatorStatic = Enumerable.Repeat((byte)1, 32).ToArray(), InitiatorEphemeral = Enumerable.Repeat((byte)2, 32).ToArray();
    private static readonly byte[] ResponderStatic = Enumerable.Repeat((byte)4, 32).ToArray(), ResponderEphemeral = Enumerable.Repeat((byte)5, 32).ToArray();

    // Built once: a signature need not be deterministic, and message 3 is bound to the exact bytes of message 2.
    private static readonly Lazy<byte[]> ResponderPayload = new(() =>
        NoiseHandshake.BuildPayload(Key, NoiseHandshakeState.GetPublicKey(ResponderStatic), ["/yamux/1.0.0"]));

    private static (NoiseHandshakeState Initiator, NoiseHandshakeState Responder, byte[] B) HandshakeUpToB()
    {
        var initiator = new NoiseHandshakeState(true, InitiatorStatic, [.. InitiatorEphemeral]);
        var responder = new NoiseHandshakeState(false, ResponderStatic, [.. ResponderEphemeral]);
        responder.ReadMessage(initiator.WriteMessage([]));
        var b = responder.WriteMessage(ResponderPayload.Value);
        return (initiator, responder, b);
    }

    private static FuzzTarget NoiseMessage2()
    {
        var (initiator, responder, b) = HandshakeUpToB();
        initiator.Dispose();
        responder.Dispose();
        return new("noise message 2", [b], input =>
        {
            using var fresh = new NoiseHandshakeState(true, InitiatorStatic, [.. InitiatorEphemeral]);
            fresh.WriteMessage([]);
            NoiseHandshakePayload.Decode(fresh.ReadMessage(input));
        }, Refused) { ShortInputs = 1000 };
    }

    private static FuzzTarget NoiseMessage3()
    {
        var (initiator, responder, b) = HandshakeUpToB();
        initiator.ReadMessage(b);
        var c = initiator.WriteMessage(NoiseHandshake.BuildPayload(Key, initiator.LocalStaticPublicKey, ["/yamux/1.0.0"]));
        initiator.Dispose();
        responder.Dispose();
        return new("noise message 3", [c], input =>
        {
            var (i, r, _) = HandshakeUpToB();
            using (i)
            using (r)
            {
                NoiseHandshakePayload.Decode(r.ReadMessage(input));
            }
        }, Refused) { ShortInputs = 1000 };
    }

    private static FuzzTarget Yamux()
    {
        var sample = YamuxFrames(
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0),
            new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 8),
            new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 3),
            new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 1, 100),
            new YamuxHeader(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0));
        var options = new YamuxOptions { KeepAliveInterval = null };
        // The session reads on its own tasks: its allocations do not show on the fuzzing thread, so no allocation bound.
        return new("yamux", [sample], input =>
        {
            var session = new YamuxSession(new FuzzTransport(input), isClient: false, options);
            session.Start();
            _ = DrainAcceptedAsync(session);
            session.Completion.WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            // Every input ends in a close: at its end (accepted: all of it was read without a protocol error), or a refusal.
            if (session.CloseReason is ProtocolException { Code: ProtocolErrorCode.ConnectionClosed }) return;
            if (session.CloseReason is ProtocolException refusal) throw refusal;
            if (session.CloseReason is not null) throw new InvalidOperationException($"session ended with {session.CloseReason.GetType().Name}", session.CloseReason);
        }, Refused) { AllocationBound = null, TimeBound = TimeSpan.FromSeconds(5) };
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
}
