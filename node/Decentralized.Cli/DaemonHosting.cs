using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary>
/// What every long-lived daemon of this executable sets up the same way (<c>node run</c>, <c>pipeline run</c>): logs for
/// people on stderr (stdout carries only JSON events) and SIGINT/SIGTERM as a clean stop.
/// </summary>
public static class DaemonHosting
{
    /// <summary>Single-line, timestamped logs on stderr at <paramref name="level"/> (trace | debug | information | warning | error).</summary>
    public static ILoggerFactory Logs(string level)
    {
        if (!Enum.TryParse<LogLevel>(level, ignoreCase: true, out var minimum))
            throw new ArgumentException($"--log-level must be trace, debug, information, warning or error, not '{level}'");
        return LoggerFactory.Create(b => b.SetMinimumLevel(minimum)
            .AddConsole(o => { o.FormatterName = LogFormatter.Name; o.LogToStandardErrorThreshold = LogLevel.Trace; })   // stdout is for JSON events only
            .AddConsoleFormatter<LogFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>()
            .AddFilter("Microsoft", LogLevel.Warning));
    }

    /// <summary>
    /// A token cancelled by SIGINT, SIGTERM or <paramref name="ct"/>; dispose the returned registrations when the daemon
    /// returns. The source itself is never disposed: a signal handler can still be running on its own thread as the
    /// command returns, and cancelling a disposed source would crash the process (seen as exit 134 on a late SIGTERM).
    /// </summary>
    public static (CancellationToken Stop, IDisposable Signals) StopOnSignals(CancellationToken ct)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
        return (stop.Token, new Registrations(term, interrupt));
    }

    private sealed class Registrations(params IDisposable[] items) : IDisposable
    {
        public void Dispose() { foreach (var item in items) item.Dispose(); }
    }
}
