using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized swarm local --peers N</c>: N daemons as separate processes on 127.0.0.1, on the embedded
/// corpus, joined through the first one. Shows their combined progress; stops them cleanly (SIGTERM, which
/// makes each save its checkpoint) on Ctrl-C or once every peer has finished <c>--rounds</c>.
/// </summary>
public static class SwarmLocalCommand
{
    public static Command Create()
    {
        var swarm = new Command("swarm", "Run several nodes on this machine.");
        var c = new Command("local", "Start N daemons on 127.0.0.1, show their combined progress, stop them cleanly.");
        swarm.Subcommands.Add(c);
        var peers = c.Add("peers", "Number of daemons.", 4);
        var rounds = c.Add("rounds", "Stop once every peer completed this many outer rounds (0: until Ctrl-C).", 0L);
        var json = c.Add("json", "Print one JSON object with every peer's result at the end.", false);
        var dir = c.Add("dir", "Folder for the peers' keys, checkpoints and logs.", Path.Combine(Path.GetTempPath(), "decentralized-swarm-local"));
        var passthrough = c.AddOptional<string>("node-args", "Extra arguments for every `node run` (e.g. \"--model tiny --inner-steps 20\").");
        var algorithm = c.Add("algorithm", "noloco | diloco.", "noloco");
        var innerSteps = c.Add("inner-steps", "H: inner steps per round.", 20);
        var model = c.Add("model", "small | tiny.", "tiny");
        var device = c.Add("device", "cpu | cuda | auto.", "cpu");
        c.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(peers);
            if (n is < 1 or > 64) throw new ArgumentException("--peers must be between 1 and 64");
            var root = Path.GetFullPath(parse.GetValue(dir)!);
            var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            var common = new List<string>
            {
                "--listen", "/ip4/127.0.0.1/tcp/0", "--algorithm", parse.GetValue(algorithm)!, "--inner-steps", parse.GetValue(innerSteps).ToString(),
                "--model", parse.GetValue(model)!, "--device", parse.GetValue(device)!, "--swarm-key", key, "--swarm-id", "local",
                "--rounds", parse.GetValue(rounds).ToString(), "--min-peers", n.ToString(), "--heartbeat", "1", "--peer-timeout", "10",
                "--threads", Math.Max(1, Environment.ProcessorCount / n).ToString(),   // N processes share the cores
            };
            if (parse.GetValue(passthrough) is { Length: > 0 } extra) common.AddRange(extra.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            NodeCommand.Check(common);   // what a node would refuse is refused here, before any folder or process exists
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);   // a fresh swarm every time
            Directory.CreateDirectory(root);
            bool asJson = parse.GetValue(json);
            await using var local = new LocalSwarm(root, common, asJson ? TextWriter.Null : Console.Error);
            await local.StartAsync(n, ct);
            var results = await local.WaitAsync(parse.GetValue(rounds) > 0, ct);
            if (asJson) Console.WriteLine(new JsonObject { ["peers"] = new JsonArray(results.Select(r => (JsonNode?)r).ToArray()) }.ToJsonString());
            return results.Count == n ? 0 : 1;
        });
        return swarm;
    }
}
