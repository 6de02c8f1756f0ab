using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Noise;
using Decentralized.Protocol.Tcp;
using Decentralized.Protocol.Yamux;

namespace Decentralized.Protocol.Tests;

/// <summary>A peer that sends garbage loses its own connection; everyone else keeps working.</summary>
public sealed class HostileInputTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("garbage-before-multistream")]
    [InlineData("oversized-multistream-message")]
    [InlineData("garbage-noise-handshake")]
    [InlineData("bad-yamux-version")]
    [InlineData("yamux-window-overrun")]
    [InlineData("garbage-after-noise")]
    public async Task HostileConnectionIsClosedAndOthersKeepWorking(string attack)
    {
        var log = new TestLog();
        await using var victim = await HostFixture.StartAsync(2, log: log);
        victim.SetStreamHandler("/test/echo/1.0.0", TcpHostTests.EchoAsync);
        await using var friend = await HostFixture.StartAsync(1);
        await friend.DialAsync(victim.ListenAddresses[0], CancellationToken.None);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var port = int.Parse(victim.ListenAddresses[0].Components[1].ValueText);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await using var raw = new NetworkStream(socket, ownsSocket: false);
        try
        {
            await AttackAsync(attack, raw, victim.LocalPeer);
        }
        catch (IOException)
        {
            // The victim may hang up before the attacker has finished writing: that is the point.
        }

        // The victim hangs up on the attacker (read returns 0 or the socket errors) and says why.
        var reason = await log.WaitForAsync(l => l.StartsWith("Warning:", StringComparison.Ordinal)).WaitAsync(Limit);
        Assert.Matches("(failed|Closed)", reason);
        await DrainUntilClosedAsync(raw).WaitAsync(Limit);

        await using var stream = await friend.OpenStreamAsync(victim.LocalPeer, "/test/echo/1.0.0", CancellationToken.None);
        await stream.WriteAsync("still here"u8.ToArray());
        await stream.CloseWriteAsync();
        var echo = new MemoryStream();
        await stream.CopyToAsync(echo);
        Assert.Equal("still here"u8.ToArray(), echo.ToArray());
    }

    private static async Task AttackAsync(string attack, Stream raw, PeerId victim)
    {
        switch (attack)
        {
            case "garbage-before-multistream":
                await raw.WriteAsync(new byte[] { 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00 });
                return;
            case "oversized-multistream-message":
                await raw.WriteAsync(new byte[] { 0xff, 0xff, 0x03 });
                return;
            case "garbage-noise-handshake":
                await MultistreamSelect.SelectAsync(raw, [NoiseHandshake.ProtocolId], CancellationToken.None);
                await raw.WriteAsync(new byte[] { 0x00, 0x05, 1, 2, 3, 4, 5 });
                return;
        }
        await MultistreamSelect.SelectAsync(raw, [NoiseHandshake.ProtocolId], CancellationToken.None);
        var attacker = PrivateKey.FromSeed(Enumerable.Repeat((byte)66, 32).ToArray());
        var noise = await NoiseHandshake.RunAsync(raw, attacker, true, victim, [YamuxSession.ProtocolId], CancellationToken.None);
        var secure = noise.Stream;
        var header = new byte[12];
        switch (attack)
        {
            case "bad-yamux-version":
                header[0] = 7;
                await secure.WriteAsync(header);
                break;
            case "yamux-window-overrun":
                new YamuxHeader(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 1, 0).Write(header);
                await secure.WriteAsync(header);
                new YamuxHeader(YamuxFrameType.Data, YamuxFlags.None, 1, 1 << 20).Write(header);
                await secure.WriteAsync(header);
                await secure.WriteAsync(new byte[1 << 20]);
                break;
            default:
                await secure.FlushAsync();
                await raw.WriteAsync(new byte[] { 0x00, 0x20 });
                await raw.WriteAsync(new byte[0x20]);
                break;
        }
        await secure.FlushAsync();
    }

    private static async Task DrainUntilClosedAsync(Stream raw)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await raw.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (IOException)
        {
            // Reset by the victim: closed as well.
        }
    }
}
