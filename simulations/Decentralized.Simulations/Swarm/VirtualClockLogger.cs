using System.Globalization;
using Decentralized.Simulations.Core;
using Microsoft.Extensions.Logging;

namespace Decentralized.Simulations.Swarm;

/// <summary>
/// The log of simulated daemons: each line carries the virtual time and the host, never the machine's clock, so two
/// runs with the same seed produce the same lines (the replay test compares them).
/// </summary>
public sealed class VirtualClockLogger(SimulationScheduler scheduler, string host, List<string> sink, TextWriter? echo) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string line = string.Create(CultureInfo.InvariantCulture, $"{scheduler.Now.TotalSeconds,9:0.000} {host,-7} {Level(logLevel)} {formatter(state, exception)}");
        sink.Add(line);
        echo?.WriteLine(line);
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Warning => "warn",
        LogLevel.Error or LogLevel.Critical => "fail",
        _ => "info",
    };
}
