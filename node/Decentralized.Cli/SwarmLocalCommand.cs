using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Decentralized.Node.Generation;
using Decentralized.Simulations.Output;

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
        var passthrough = c.AddOptional<string>("node-args", "Extra arguments for every `node run` (e.g. \"--compress q4:bf16+ef+ans --sync-warmup 100\").");
        var link = NodeOptions.Many(c, "link", "Emulate each peer's access link (both directions): RATE[,latency=MS][,loss=P] for every peer, e.g. 100mbit,latency=40ms, and/or peerI=SHAPE for one (repeatable). Default: loopback as it is.");
        var misbehave = NodeOptions.Many(c, "misbehave", "Testing the defences: peerI=MODE makes peer I lie as node run --misbehave MODE does (flip, random, replay, echo, zeros, scaled, garbage-text, ...; repeatable). The end table names it and who excluded it.");
        var algorithm = c.Add("algorithm", "noloco | diloco | sparseloco.", "noloco");
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
            if (parse.GetValue(passthrough) is { Length: > 0 } extra)
            {
                // An option given in --node-args replaces swarm local's own choice (a node refuses an option given twice),
                // e.g. a longer --peer-timeout behind a slow --link.
                var words = extra.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (int i = common.Count - 2; i >= 0; i -= 2)
                    if (words.Contains(common[i])) common.RemoveRange(i, 2);
                common.AddRange(words);
            }
            NodeCommand.Check(common);   // what a node would refuse is refused here, before any folder or process exists
            if (common.Contains("--link")) throw new ArgumentException("--node-args --link: give swarm local's own --link (it shapes every peer, or peerI=SHAPE one)");
            var links = SwarmLinks.Parse(parse.GetValue(link) ?? [], n);
            if (common.Contains("--misbehave")) throw new ArgumentException("--node-args --misbehave: give swarm local's own --misbehave peerI=MODE (a swarm of liars tests nothing)");
            var liars = PerPeerValues.Parse("misbehave", "a mode", parse.GetValue(misbehave) ?? [], n,
                mode => new Decentralized.Node.Swarm.Misbehaviour(mode).Mode, forAllAllowed: false);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);   // a fresh swarm every time
            Directory.CreateDirectory(root);
            bool asJson = parse.GetValue(json);
            long roundsTarget = parse.GetValue(rounds);
            var view = new SwarmView(asJson ? null : Console.Error, roundsTarget);
            IReadOnlyList<JsonObject> results;
            await using (var local = new LocalSwarm(root, common, links, view) { Misbehave = liars })
            {
                await local.StartAsync(n, ct);
                results = await local.WaitAsync(ct);
            }
            var summary = new JsonObject
            {
                ["utilisation"] = SwarmView.MeanUtilisation(results),
                ["peers"] = new JsonArray(results.Select(r => (JsonNode?)r.DeepClone()).ToArray()),
            };
            AtomicFile.WriteAllText(Path.Combine(root, "summary.json"), summary.ToJsonString());
            view.Summary(results);
            var png = Path.Combine(root, "loss.png");
            var failed = LossChart(png, results);
            view.Note(failed ?? $"loss curve: {png}");
            view.Note($"reports: {Path.Combine(root, "summary.json")}; logs: {Path.Combine(root, "peer*", "node.log")}");
            if (!asJson && results.Count > 0) view.Note(Sample(Path.Combine(root, "peer0")));
            if (asJson)
            {
                foreach (var r in summary["peers"]!.AsArray()) r!.AsObject().Remove("curve");
                Console.WriteLine(summary.ToJsonString());
            }
            return results.Count == n ? 0 : 1;
        });
        return swarm;
    }

    /// <summary>Validation loss against round, one line per peer; returns why it was not drawn, or null.</summary>
    private static string? LossChart(string path, IReadOnlyList<JsonObject> reports)
    {
        var series = new List<Charts.Series>();
        for (int i = 0; i < reports.Count; i++)
        {
            var points = (reports[i]["curve"] as JsonArray ?? [])
                .Select(p => (Round: p?["round"]?.GetValue<double>() ?? double.NaN, Loss: p?["val_loss"] is JsonValue v && v.TryGetValue<double>(out var x) ? x : double.NaN))
                .Where(p => double.IsFinite(p.Round) && double.IsFinite(p.Loss)).ToArray();
            if (points.Length > 0) series.Add(new Charts.Series($"peer{i}", points.Select(p => p.Round).ToArray(), points.Select(p => p.Loss).ToArray()));
        }
        if (series.Count == 0) return "loss curve not drawn: no peer reported a validation loss";
        return Charts.Lines(path, "validation loss per peer", "outer round", "validation loss (nats per token)", series);
    }

    /// <summary>The prompt the demo continues with the swarm's model: text of the kind the embedded corpus holds.</summary>
    public const string SamplePrompt = "The ";

    /// <summary>
    /// What the swarm learned, in words: a few lines sampled (seeded, temperature 0.8) from peer0's saved model, with the
    /// command that exports it. Returns the lines to print, or why there is nothing to show.
    /// </summary>
    private static string Sample(string peerDir)
    {
        try
        {
            using var model = LoadedModel.Load(peerDir);
            var text = string.Concat(new TextGenerator(model.Model, model.Tokenizer).Generate(SamplePrompt, new GenerationOptions(MaxTokens: 240, Temperature: 0.8, Seed: 1)));
            var lines = (SamplePrompt + text).Split('\n').Select(l => "  | " + l).Take(8);
            return $"text from peer0's model (prompt \"{SamplePrompt}\", 240 tokens, temperature 0.8, seed 1):\n{string.Join('\n', lines)}\n" +
                   $"more with: decentralized generate --model {peerDir} --prompt \"...\"; export with: decentralized export {peerDir} --out my-model";
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            return $"no text sampled: {e.Message}";
        }
    }
}
