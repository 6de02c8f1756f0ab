using System.CommandLine;
using Decentralized.Node.Outer;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

/// <summary><c>decentralized node run</c>: join a swarm by address and train together until stopped.</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var node = new Command("node", "Run a training node (daemon).");
        var c = new Command("run", "Join a swarm (or start one) and train with NoLoCo or DiLoCo until stopped (SIGINT/SIGTERM save and exit).");
        node.Subcommands.Add(c);
        var (settingsOf, threads, logLevel) = Declare(c);

        c.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            var settings = settingsOf(parse);
            using var logs = DaemonHosting.Logs(parse.GetValue(logLevel)!);
            // SIGINT and SIGTERM both mean: finish the current step, save, exit.
            var (stop, signals) = DaemonHosting.StopOnSignals(ct);
            using var _ = signals;
            try { return await new NodeDaemon(settings, logs).RunAsync(stop); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return 0; }   // stopped before training began
        });
        return node;
    }

    /// <summary>
    /// Reads <paramref name="args"/> (the words after <c>node run</c>) exactly as the daemon would and throws the
    /// daemon's one-line error on anything it would refuse, so <c>swarm local</c> refuses before it starts any process.
    /// </summary>
    public static NodeSettings Check(IReadOnlyList<string> args)
    {
        var c = new Command("run");
        var (settingsOf, _, _) = Declare(c);
        var parsed = c.Parse(args.ToArray(), CliApp.Parsing);
        if (parsed.Errors.Count > 0) throw new ArgumentException(parsed.Errors[0].Message);
        return settingsOf(parsed).Validate();
    }

    /// <summary>Every option of <c>node run</c>: the node's settings plus the process's threads and log level.</summary>
    private static (Func<ParseResult, NodeSettings> Settings, Option<int> Threads, Option<string> LogLevel) Declare(Command c) =>
        (NodeOptions.Declare(c),
         c.Add("threads", "CPU threads for tensor math (0: torch's default, one per core).", 0),
         c.Add("log-level", "trace | debug | information | warning | error.", "information"));
}
