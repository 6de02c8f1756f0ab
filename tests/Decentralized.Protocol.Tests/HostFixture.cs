using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Protocol.Tests;

/// <summary>Creates loopback hosts with deterministic keys and collects their log lines for assertions.</summary>
internal static class HostFixture
{
    public static async Task<Libp2pHost> StartAsync(byte seed, Func<Libp2pHostOptions, Libp2pHostOptions>? configure = null, TestLog? log = null)
    {
        var options = new Libp2pHostOptions
        {
            Identity = PrivateKey.FromSeed(Enumerable.Repeat(seed, 32).ToArray()),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            LoggerFactory = log,
        };
        var host = new Libp2pHost(configure?.Invoke(options) ?? options);
        await host.StartAsync();
        return host;
    }
}

/// <summary>Minimal logger that keeps every formatted line (thread-safe).</summary>
internal sealed class TestLog : ILoggerFactory, ILogger
{
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) { return [.. _lines]; } }
    }

    public ILogger CreateLogger(string categoryName) => this;
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{logLevel}: {formatter(state, exception)}";
        lock (_lines)
        {
            _lines.Add(line);
            foreach (var waiter in _waiters.Where(w => w.Match(line)))
            {
                waiter.Done.TrySetResult(line);
            }
        }
    }

    /// <summary>Completes with the first line (past or future) that matches.</summary>
    public Task<string> WaitForAsync(Func<string, bool> match)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            var existing = _lines.FirstOrDefault(match);
            if (existing is not null)
            {
                done.TrySetResult(existing);
            }
            else
            {
                _waiters.Add((match, done));
            }
        }
        return done.Task;
    }
}
