using Decentralized.Node.Rounds;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Multistream;
using Decentralized.Protocol.Noise;
using Decentralized.Protocol.Tcp;
using Decentralized.Protocol.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Node.Tests.Daemon;

/// <summary>The attacks of issue 26 against a daemon's listener, from the test process over loopback only.</summary>
internal static class HostileClient
{
    /// <summary>The IP and port of a daemon address <c>/ip4/&lt;ip&gt;/tcp/&lt;port&gt;/p2p/&lt;id&gt;</c>.</summary>
    public static IPEndPoint EndPoint(string address)
    {
        var parts = address.Split('/');
        return new IPEndPoint(IPAddress.Parse(parts[2]), int.Parse(parts[4]));
    }

    /// <summary>
    /// Pre-gate amplification: Noise with a throwaway key (no swarm key), then Yamux streams that each carry
    /// <paramref name="bytesPerStream"/> nothing will read. The first stream (the gate's) stays silent so the gate waits.
    /// Returns the sessions; the daemon drops them when its handshake timeout expires.
    /// </summary>
    public static async Task<YamuxSession> PreGateStreamsAsync(string address, int streams, int bytesPerStream, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(EndPoint(address), ct);
        var transport = new NetworkStream(socket, ownsSocket: true);
        await MultistreamSelect.SelectAsync(transport, [NoiseHandshake.ProtocolId], ct);
        var noise = await NoiseHandshake.RunAsync(transport, PrivateKey.Generate(), isInitiator: true, null, [YamuxSession.ProtocolId], ct);
        var session = new YamuxSession(noise.Stream, isClient: true);
        session.Start();
        session.OpenStream();   // the gate stream: never negotiated
        var payload = new byte[bytesPerStream];
        var writes = new List<Task>();
        for (int i = 1; i < streams; i++)
        {
            try { writes.Add(session.OpenStream().WriteAsync(payload, ct).AsTask()); }
            catch (Exception) { break; }   // the session was closed on us
        }
        try { await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(5), ct); }
        catch (Exception) { }   // reset streams fail their writes: that is the defence working
        return session;
    }

    /// <summary>
    /// Join lockout: keeps <paramref name="perSource"/> silent TCP connections open from each of
    /// <paramref name="sources"/>, reopening each as soon as the daemon closes it, until <paramref name="ct"/> fires.
    /// </summary>
    public static async Task IdleFloodAsync(string address, IReadOnlyList<IPAddress> sources, int perSource, CancellationToken ct)
    {
        var target = EndPoint(address);
        async Task HoldAsync(IPAddress source)
        {
            var buffer = new byte[1];
            while (!ct.IsCancellationRequested)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(target, ct);
                    // Never speak; wait for the daemon to drop us, then come straight back.
                    while (await socket.ReceiveAsync(buffer, ct) > 0) { }
                }
                catch (Exception) when (!ct.IsCancellationRequested) { }
                catch (Exception) { return; }
                try { await Task.Delay(20, ct); } catch (OperationCanceledException) { return; }
            }
        }
        await Task.WhenAll(sources.SelectMany(s => Enumerable.Range(0, perSource).Select(_ => HoldAsync(s))));
    }

    /// <summary>
    /// A key holder passes the gate with the daemon's own identity, then opens one update stream per entry of
    /// <paramref name="declared"/>, each sending only a header that declares that many bytes, and then nothing.
    /// </summary>
    public static async Task<(Libp2pHost Host, List<Stream> Streams)> HeaderOnlyUpdatesAsync(string address, string configHash, byte[] swarmKey,
        long round, IReadOnlyList<long> declared, CancellationToken ct)
    {
        var key = PrivateKey.Generate();
        var identity = new SwarmIdentity(SwarmIdentity.SoftwareVersionOfThisBuild, "default", configHash);
        var gate = new ConnectionHandshake(identity, swarmKey, key.PeerId, 64 * 1024, NullLogger.Instance);
        var host = new Libp2pHost(new Libp2pHostOptions { Identity = key, ConnectionGate = gate.RunAsync, ConnectionGateProtocol = SwarmProtocols.Gate });
        var peer = await host.DialAsync(Multiaddr.Parse(address), ct);
        var opened = new List<Stream>();
        foreach (var bytes in declared)
        {
            var stream = await host.OpenStreamAsync(peer, SwarmProtocols.Update, ct);
            await MessageIo.WriteAsync(stream, new UpdateHeader(round, Payload.FastWeights, bytes), ct);
            opened.Add(stream);
        }
        return (host, opened);
    }

    /// <summary>The daemon's /status document.</summary>
    public static async Task<JsonNode> StatusAsync(HttpClient client, string http) =>
        JsonNode.Parse(await client.GetStringAsync($"http://{http}/status"))!;

    /// <summary>The daemon's managed heap, in bytes, as /status reports it.</summary>
    public static async Task<long> HeapAsync(HttpClient client, string http) =>
        (await StatusAsync(client, http))["process"]!["managed_heap_bytes"]!.GetValue<long>();
}
