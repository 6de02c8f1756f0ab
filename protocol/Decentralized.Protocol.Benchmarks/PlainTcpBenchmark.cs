using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>The ceiling: plain .NET sockets over loopback with the same 64 KiB writes.</summary>
internal static class PlainTcpBenchmark
{
    public static async Task<BenchmarkResult> RunAsync(byte[] data, int chunk)
    {
        var (oneWay, cpuMs) = await OneWayAsync(data, chunk);
        return new BenchmarkResult("plain .NET TCP", oneWay, await EchoAsync(data, chunk), null, OneWayCpuMs: cpuMs);
    }

    private static async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await accept;
        server.NoDelay = true;
        return (client, server);
    }

    private static async Task<(double MBps, double CpuMs)> OneWayAsync(byte[] data, int chunk)
    {
        var (client, server) = await ConnectAsync();
        using (client)
        using (server)
        {
            var sink = Task.Run(async () =>
            {
                var buffer = new byte[256 * 1024];
                long total = 0;
                int n;
                while ((n = await server.ReceiveAsync(buffer)) > 0)
                {
                    total += n;
                }
                await server.SendAsync(BitConverter.GetBytes(total));
                return total;
            });
            var cpu = ProcessCpu.Now();
            var watch = Stopwatch.StartNew();
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                await client.SendAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
            }
            client.Shutdown(SocketShutdown.Send);
            var ack = new byte[8];
            await client.ReceiveAsync(ack);
            watch.Stop();
            var cpuMs = (ProcessCpu.Now() - cpu).TotalMilliseconds;
            await sink;
            return (data.Length / 1e6 / watch.Elapsed.TotalSeconds, cpuMs);
        }
    }

    private static async Task<double> EchoAsync(byte[] data, int chunk)
    {
        var (client, server) = await ConnectAsync();
        using (client)
        using (server)
        {
            var echo = Task.Run(async () =>
            {
                var buffer = new byte[256 * 1024];
                int n;
                while ((n = await server.ReceiveAsync(buffer)) > 0)
                {
                    await server.SendAsync(buffer.AsMemory(0, n));
                }
                server.Shutdown(SocketShutdown.Send);
            });
            var watch = Stopwatch.StartNew();
            var reader = Task.Run(async () =>
            {
                var buffer = new byte[256 * 1024];
                long total = 0;
                int n;
                while ((n = await client.ReceiveAsync(buffer)) > 0)
                {
                    total += n;
                }
                return total;
            });
            for (var offset = 0; offset < data.Length; offset += chunk)
            {
                await client.SendAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
            }
            client.Shutdown(SocketShutdown.Send);
            await reader;
            watch.Stop();
            await echo;
            return data.Length / 1e6 / watch.Elapsed.TotalSeconds;
        }
    }
}
