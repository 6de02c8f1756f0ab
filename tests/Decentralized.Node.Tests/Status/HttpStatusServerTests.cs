using System.Net;
using System.Net.Sockets;
using System.Text;
using Decentralized.Cli;
using Prometheus;

namespace Decentralized.Node.Tests.Status;

/// <summary>
/// The status server as a client on the wire sees it: the three pages, then requests it must bound (oversized
/// headers, a body, a flood of idle connections), each answered or closed without holding the daemon's memory.
/// </summary>
public sealed class HttpStatusServerTests : IAsyncLifetime
{
    private HttpStatusServer _server = null!;

    public async Task InitializeAsync()
    {
        var registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(registry);
        var round = factory.CreateGauge("decentralized_round", "Current outer round.");
        var bytes = factory.CreateCounter("decentralized_peer_bytes_in_total", "Bytes received from each peer.", "peer");
        registry.AddBeforeCollectCallback(() => { round.Set(7); bytes.WithLabels("12D3KooWpeer").IncTo(4096); });
        _server = await HttpStatusServer.StartAsync("127.0.0.1:0", () => "{\"round\":7}", registry, CancellationToken.None);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TheBoundPortServesThePageTheStatusAndPrometheusMetrics()
    {
        Assert.NotEqual(0, _server.Endpoint.Port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{_server.Endpoint}") };
        var status = await http.GetAsync("/status");
        Assert.Equal("application/json", status.Content.Headers.ContentType!.MediaType);
        Assert.Equal("{\"round\":7}", await status.Content.ReadAsStringAsync());
        Assert.Equal("no-store", status.Headers.CacheControl!.ToString());
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Matches("(?m)^# TYPE decentralized_round gauge$", metrics);
        Assert.Matches("(?m)^decentralized_round 7$", metrics);
        Assert.Matches("(?m)^decentralized_peer_bytes_in_total\\{peer=\"12D3KooWpeer\"\\} 4096$", metrics);
        Assert.Contains("<html", await http.GetStringAsync("/"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/secret")).StatusCode);
    }

    [Fact]
    public async Task OversizedHeadersAreRefusedWith431()
    {
        var padding = new string('a', HttpStatusServer.HeaderBytesMax);
        var answer = await ExchangeAsync($"GET /status HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", answer);
    }

    [Fact]
    public async Task ARequestWithABodyIsNeverServed()
    {
        var answer = await ExchangeAsync("POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        Assert.Matches("^HTTP/1.1 (405|413)", answer);
        Assert.DoesNotContain("round", answer);
    }

    [Fact]
    public async Task ConnectionsBeyondTheLimitAreClosedAtOnce()
    {
        var sockets = new List<TcpClient>();
        try
        {
            for (int i = 0; i < HttpStatusServer.ConnectionsMax + 8; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync(_server.Endpoint);
                sockets.Add(c);
            }
            // Idle sockets send nothing; those over the limit must be closed well before the 5 s header timeout.
            var closedAtOnce = await Task.WhenAll(sockets.Select(async c =>
            {
                using var soon = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
                try { return await c.GetStream().ReadAsync(new byte[1], soon.Token) == 0; }
                catch (OperationCanceledException) { return false; }
                catch (IOException) { return true; }
            }));
            int closed = closedAtOnce.Count(x => x);
            Assert.True(closed >= 8, $"{closed} of {sockets.Count} idle connections were closed; at most {HttpStatusServer.ConnectionsMax} may stay open");
        }
        finally
        {
            foreach (var c in sockets) c.Dispose();
        }
    }

    /// <summary>Sends raw bytes and reads the answer until the server closes or 5 s pass.</summary>
    private async Task<string> ExchangeAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_server.Endpoint);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                answer.Write(buffer, 0, read);
                if (Encoding.ASCII.GetString(answer.ToArray()).Contains("\r\n\r\n")) break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException) { }
        return Encoding.ASCII.GetString(answer.ToArray());
    }
}
