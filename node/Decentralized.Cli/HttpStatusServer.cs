using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Decentralized.Cli;

/// <summary>
/// The daemon's status over HTTP/1.1, served by Kestrel (it ships with .NET): GET / (a page), /status (JSON) and
/// /metrics (Prometheus text, written by prometheus-net). Meant for localhost or a trusted network, like any
/// Prometheus exporter, and bounded all the same: no request body, small request line and headers that must arrive
/// within a few seconds, few connections, idle keep-alives closed quickly. No configuration is read from files or the
/// environment (an empty host builder), so nothing on disk can widen these limits.
/// </summary>
public sealed class HttpStatusServer : IAsyncDisposable
{
    /// <summary>Open connections at once; Kestrel closes any more at once, so a flood cannot hold the daemon's memory.</summary>
    public const int ConnectionsMax = 32;
    /// <summary>All request headers together; a larger request is answered 431.</summary>
    public const int HeaderBytesMax = 8 * 1024;
    public const int HeadersMax = 32;
    public const int RequestLineBytesMax = 1024;
    /// <summary>How long a client may take to send its headers, and may idle between requests.</summary>
    public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;

    private HttpStatusServer(WebApplication app, IPEndPoint endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>The address and port bound (the actual port when 0 was asked for).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Listens on <paramref name="hostPort"/> (address:port) and serves until disposed.</summary>
    /// <param name="statusJson">The /status document, built per request.</param>
    /// <param name="metrics">The registry /metrics exports (its collect callbacks refresh the values per scrape).</param>
    public static async Task<HttpStatusServer> StartAsync(string hostPort, Func<string> statusJson, CollectorRegistry metrics, CancellationToken ct)
    {
        var (ip, port) = Parse(hostPort);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            Limit(k.Limits);
            k.Listen(ip, port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.MapGet("/", context => WriteAsync(context, "text/html", StatusPage.Html));
        app.MapGet("/status", context => WriteAsync(context, "application/json", statusJson()));
        app.MapGet("/metrics", async context =>
        {
            NoStore(context, "text/plain; version=0.0.4; charset=utf-8");
            await metrics.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        try
        {
            await app.StartAsync(ct);
        }
        catch (Exception e) when (e is AddressInUseException || e.InnerException is AddressInUseException)
        {
            await app.DisposeAsync();
            throw new IOException($"--http {hostPort}: the port is already in use (another node's status page?); choose another, e.g. --http {ip}:{(port == 0 ? 9091 : port + 1)}");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new HttpStatusServer(app, new IPEndPoint(ip, new Uri(bound).Port));
    }

    private static void Limit(KestrelServerLimits limits)
    {
        limits.MaxConcurrentConnections = ConnectionsMax;
        limits.MaxConcurrentUpgradedConnections = 0;
        limits.MaxRequestBodySize = 0;
        limits.MaxRequestHeadersTotalSize = HeaderBytesMax;
        limits.MaxRequestHeaderCount = HeadersMax;
        limits.MaxRequestLineSize = RequestLineBytesMax;
        limits.MaxRequestBufferSize = 2 * HeaderBytesMax;
        limits.RequestHeadersTimeout = ClientTimeout;
        limits.KeepAliveTimeout = ClientTimeout;
    }

    private static (IPAddress Ip, int Port) Parse(string hostPort)
    {
        var parts = hostPort.Split(':');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || !int.TryParse(parts[1], out int port) || port is < 0 or > 65535)
            throw new ArgumentException($"--http must be address:port, e.g. 127.0.0.1:9090 (got '{hostPort}')");
        return (ip, port);
    }

    private static Task WriteAsync(HttpContext context, string type, string body)
    {
        NoStore(context, type + "; charset=utf-8");
        return context.Response.WriteAsync(body, Encoding.UTF8, context.RequestAborted);
    }

    /// <summary>Every answer is live state: never cached by a browser or a proxy.</summary>
    private static void NoStore(HttpContext context, string type)
    {
        context.Response.ContentType = type;
        context.Response.Headers.CacheControl = "no-store";
    }

    public async ValueTask DisposeAsync()
    {
        try { await _app.StopAsync(CancellationToken.None); }
        catch (OperationCanceledException) { }
        await _app.DisposeAsync();
    }
}
