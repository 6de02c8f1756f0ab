using System.Diagnostics;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>C# host against a libp2p listener (another C# host or the js peer): one-way, echo, dial-to-first-stream.</summary>
internal static class Libp2pBenchmark
{
    /// <summary>Count-only sink for C#&lt;-&gt;C# (no hashing on the measured path).</summary>
    public const string SinkProtocol = "/bench/sink/1.0.0";
    /// <summary>The interop peer's bulk protocol: read to EOF, reply with the hex SHA-256.</summary>
    public const string BulkProtocol = "/decentralized/bulk/1.0.0";
    public const string EchoProtocol = "/decentralized/echo/1.0.0";

    public static async Task<Libp2pHost> StartHostAsync(bool serve)
    {
        var host = new Libp2pHost(new Libp2pHostOptions
        {
            Identity = PrivateKey.Generate(),
            ListenAddresses = serve ? [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] : [],
        });
        if (serve)
        {
            host.SetStreamHandler(SinkProtocol, ServeSinkAsync);
            host.SetStreamHandler(BulkProtocol, ServeBulkAsync);
            host.SetStreamHandler(EchoProtocol, ServeEchoAsync);
        }
        await host.StartAsync();
        return host;
    }

    /// <summary>
    /// Sends <paramref name="data"/>, half-closes, waits for the listener's reply (a digest or a count). Returns the rate
    /// and this process's CPU time over the transfer (both ends when the listener is a host in this process).
    /// </summary>
    public static async Task<(double MBps, double CpuMs)> OneWayAsync(Libp2pHost client, Multiaddr target, byte[] data, int chunk, string protocol = SinkProtocol)
    {
        var peer = await client.DialAsync(target, CancellationToken.None);
        await using var stream = await client.OpenStreamAsync(peer, protocol, CancellationToken.None);
        var cpu = ProcessCpu.Now();
        var watch = Stopwatch.StartNew();
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            await stream.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
        }
        await stream.CloseWriteAsync();
        await stream.CopyToAsync(Stream.Null);
        watch.Stop();
        return (data.Length / 1e6 / watch.Elapsed.TotalSeconds, (ProcessCpu.Now() - cpu).TotalMilliseconds);
    }

    /// <summary>Sends <paramref name="data"/> while reading the echo; stops when the echo reaches its end.</summary>
    public static async Task<double> EchoAsync(Libp2pHost client, Multiaddr target, byte[] data, int chunk)
    {
        var peer = await client.DialAsync(target, CancellationToken.None);
        await using var stream = await client.OpenStreamAsync(peer, EchoProtocol, CancellationToken.None);
        var watch = Stopwatch.StartNew();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                total += n;
            }
            return total;
        });
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            await stream.WriteAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
        }
        await stream.CloseWriteAsync();
        var echoed = await reader;
        watch.Stop();
        if (echoed != data.Length)
        {
            throw new InvalidOperationException($"echo returned {echoed} of {data.Length} bytes");
        }
        return data.Length / 1e6 / watch.Elapsed.TotalSeconds;
    }

    /// <summary>Median time from TCP connect to a negotiated application stream, over fresh connections.</summary>
    public static async Task<double> DialToFirstStreamAsync(Multiaddr target, int samples)
    {
        var times = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            await using var client = await StartHostAsync(serve: false);
            var watch = Stopwatch.StartNew();
            var peer = await client.DialAsync(target, CancellationToken.None);
            await using var stream = await client.OpenStreamAsync(peer, EchoProtocol, CancellationToken.None);
            watch.Stop();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static async Task ServeSinkAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            total += n;
        }
        await stream.WriteAsync(BitConverter.GetBytes(total), ct);
        await stream.CloseWriteAsync(ct);
    }

    private static async Task ServeBulkAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, n);
        }
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash.GetHashAndReset())), ct);
        await stream.CloseWriteAsync(ct);
    }

    private static async Task ServeEchoAsync(PeerId peer, Stream stream, CancellationToken ct)
    {
        var buffer = new byte[256 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, ct)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        await stream.CloseWriteAsync(ct);
    }
}
