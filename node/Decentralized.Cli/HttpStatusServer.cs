using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Decentralized.Cli;

/// <summary>
/// A tiny HTTP/1.1 server for the daemon's status: GET /status (JSON), /metrics (Prometheus text format) and /
/// (a page). Requests are bounded (8 KiB of headers, 5 s) and only GET is served; it is meant for localhost
/// or a trusted network, like a Prometheus exporter.
/// </summary>
public sealed class HttpStatusServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<string, (string ContentType, string Body)?> _route;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public HttpStatusServer(string hostPort, Func<string, (string ContentType, string Body)?> route)
    {
        var parts = hostPort.Split(':');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || !int.TryParse(parts[1], out int port) || port is < 0 or > 65535)
            throw new ArgumentException($"--http must be address:port, e.g. 127.0.0.1:9090 (got '{hostPort}')");
        _route = route;
        _listener = new TcpListener(ip, port);
        try { _listener.Start(); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new IOException($"--http {hostPort}: the port is already in use (another node's status page?); choose another, e.g. --http {parts[0]}:{(port == 0 ? 9091 : port + 1)}");
        }
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _loop = AcceptLoopAsync(_stop.Token);
    }

    public IPEndPoint Endpoint { get; }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(ct); }
            catch (Exception) { return; }
            _ = ServeAsync(client, ct);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken ct)
    {
        using var _ = client;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var stream = client.GetStream();
            var request = await ReadHeadAsync(stream, timeout.Token);
            var first = request.Split("\r\n")[0].Split(' ');
            string status = "200 OK";
            (string Type, string Body)? answer = first.Length >= 2 && first[0] == "GET" ? _route(first[1].Split('?')[0]) : null;
            if (answer is null) { status = first.Length >= 1 && first[0] == "GET" ? "404 Not Found" : "405 Method Not Allowed"; answer = ("text/plain", status + "\n"); }
            var body = Encoding.UTF8.GetBytes(answer.Value.Body);
            var head = $"HTTP/1.1 {status}\r\nContent-Type: {answer.Value.Type}; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            await stream.WriteAsync(body, timeout.Token);
        }
        catch (Exception) { /* a broken or slow client only loses its own request */ }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[8192];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0) break;
            length += read;
            if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0) break;
        }
        return Encoding.ASCII.GetString(buffer, 0, length);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _loop; } catch (Exception) { }
    }
}
