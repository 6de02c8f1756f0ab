using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Decentralized.Cli;

/// <summary>
/// One short line per log entry for people: <c>18:52:11 warn  gate: message</c>. The logger's category is cut to its
/// last word (<c>Libp2pHost</c>, not <c>Decentralized.Protocol.Tcp.Libp2pHost[0]</c>); no event ids; an exception
/// adds its message, not its stack trace (a stack trace is a bug report, and <c>--log-level debug</c> shows it).
/// </summary>
public sealed class LogFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "decentralized";

    public override void Write<TState>(in LogEntry<TState> entry, Microsoft.Extensions.Logging.IExternalScopeProvider? scopes, TextWriter writer)
    {
        var message = entry.Formatter(entry.State, entry.Exception);
        if (string.IsNullOrEmpty(message) && entry.Exception is null) return;
        var category = entry.Category[(entry.Category.LastIndexOf('.') + 1)..];
        writer.Write(DateTime.Now.ToString("HH:mm:ss "));
        writer.Write(entry.LogLevel switch
        {
            LogLevel.Trace => "trce  ", LogLevel.Debug => "dbug  ", LogLevel.Information => "info  ",
            LogLevel.Warning => "warn  ", LogLevel.Error => "error ", _ => "crit  ",
        });
        writer.Write(category);
        writer.Write(": ");
        writer.Write(message.ReplaceLineEndings(" "));
        if (entry.Exception is { } e)
        {
            writer.Write(" (");
            writer.Write(entry.LogLevel <= LogLevel.Debug ? e.ToString().ReplaceLineEndings(" | ") : e.GetBaseException().Message);
            writer.Write(')');
        }
        writer.WriteLine();
    }
}
