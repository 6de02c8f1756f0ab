using System.CommandLine;
using System.Runtime.InteropServices;
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
        c.AddOptional<string>("config", "JSON file of option values (keys are option names); unknown keys are refused.");
        var listen = Many(c, "listen", "Multiaddr to listen on (repeatable). Default /ip4/0.0.0.0/tcp/4001.");
        var bootstrap = Many(c, "bootstrap", "Multiaddr of any swarm member, with /p2p/<id> (repeatable). None: start a new swarm.");
        var keyFile = c.Add("key-file", "Identity key file (created with owner-only permissions if missing).", NodeDefaults.KeyFile);
        var dataDir = c.Add("data-dir", "Where checkpoints live; a checkpoint found here is resumed.", NodeDefaults.DataDir);
        var data = c.AddOptional<string>("data", "Corpus: text file, folder or JSONL (default: the embedded corpus).");
        var tokenizer = c.Add("tokenizer", "byte | gpt2.", "byte");
        var cacheDir = c.AddOptional<string>("cache-dir", "Token cache folder.");
        var model = c.Add("model", "small | tiny.", "small");
        var lr = c.Add("lr", "Peak inner AdamW learning rate.", 1.5e-3);
        var warmup = c.Add("warmup", "Inner warm-up steps.", 100);
        var batch = c.Add("batch-size", "Sequences per micro-batch.", 16);
        var seqLen = c.Add("seq-len", "Tokens per sequence.", 128);
        var algorithm = c.Add("algorithm", "noloco | diloco.", "noloco");
        var innerSteps = c.Add("inner-steps", "H: inner steps per outer round.", 50);
        var compress = c.Add("compress", "Codec chain for updates (fp32, int8, q4+ef, ...).", "fp32");
        var device = c.Add("device", "cpu | cuda | auto.", "auto");
        var swarmId = c.Add("swarm-id", "Name of the swarm; peers of another swarm are refused.", "default");
        var swarmKey = c.AddOptional<string>("swarm-key", "Pre-shared swarm key as hex (or @file holding it); peers without it are refused.");
        var seed = c.Add("seed", "Swarm seed: initial weights and NoLoCo pairing (all members must agree).", 1L);
        var roundTimeout = c.Add("round-timeout", "Seconds to wait for partners in a round.", 30.0);
        var heartbeat = c.Add("heartbeat", "Seconds between heartbeats.", 2.0);
        var peerTimeout = c.Add("peer-timeout", "Seconds of silence after which a peer counts as dead.", 10.0);
        var overlap = c.Add("overlap", "Run each exchange during the next H steps (one-step-delayed outer update).", false);
        var minPeers = c.Add("min-peers", "Wait until the swarm has this many members (including this one) before training.", 1);
        var rounds = c.Add("rounds", "Stop after this many outer rounds (0: run until stopped).", 0L);
        var groupSize = c.Add("group-size", "NoLoCo group size.", 2);
        var outerLr = c.Add("outer-lr", "DiLoCo outer learning rate.", 1.0);
        var outerMomentum = c.Add("outer-momentum", "DiLoCo outer momentum.", 0.5);
        var normBound = c.Add("norm-bound", "Refuse updates whose norm exceeds this multiple of ours.", 10.0);
        var http = c.AddOptional<string>("http", "address:port for the status page, /status JSON and /metrics (e.g. 127.0.0.1:9090).");
        var report = c.AddOptional<string>("report", "Write a JSON summary here on exit.");
        var evalBatches = c.Add("eval-batches", "Validation micro-batches after each round.", 4);
        var shardIndex = c.AddOptional<int?>("shard-index", "This peer's data shard (default: from its peer id).");
        var shardCount = c.Add("shard-count", "Shards the corpus is cut into.", 64);
        var checkpointEvery = c.Add("checkpoint-every", "Checkpoint every N rounds (0: only on exit).", 1);
        var misbehave = c.AddOptional<string>("misbehave", "Testing only: send garbage | nan | huge updates.");
        var threads = c.Add("threads", "CPU threads for tensor math (0: torch's default, one per core).", 0);
        var logLevel = c.Add("log-level", "trace | debug | information | warning | error.", "information");

        c.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            var settings = new NodeSettings
            {
                Listen = Or(parse.GetValue(listen), "/ip4/0.0.0.0/tcp/4001"),
                Bootstrap = parse.GetValue(bootstrap) ?? [],
                KeyFile = parse.GetValue(keyFile)!,
                DataDir = parse.GetValue(dataDir)!,
                Data = new TrainingDataOptions(parse.GetValue(data), parse.GetValue(tokenizer)!, parse.GetValue(cacheDir)),
                Model = TrainCommand.ModelPreset(parse.GetValue(model)!, null, null, null),
                Inner = new InnerOptions(LearningRate: parse.GetValue(lr), WarmupSteps: parse.GetValue(warmup), TotalSteps: 100_000,
                    MicroBatchSize: parse.GetValue(batch), SequenceLength: parse.GetValue(seqLen)),
                Swarm = new SwarmOptions
                {
                    SwarmId = parse.GetValue(swarmId)!,
                    SwarmKey = ParseKey(parse.GetValue(swarmKey)),
                    Algorithm = AlgorithmNames.Parse(parse.GetValue(algorithm)!),
                    InnerStepsPerRound = parse.GetValue(innerSteps),
                    SwarmSeed = parse.GetValue(seed),
                    RoundTimeout = Seconds(parse.GetValue(roundTimeout), "round timeout"),
                    HeartbeatInterval = Seconds(parse.GetValue(heartbeat), "heartbeat"),
                    PeerTimeout = Seconds(parse.GetValue(peerTimeout), "peer timeout"),
                    RoundsMax = parse.GetValue(rounds),
                    PeersMin = parse.GetValue(minPeers),
                    Overlap = parse.GetValue(overlap),
                    UpdateNormBound = parse.GetValue(normBound),
                },
                DiLoCo = new DiLoCoOptions(parse.GetValue(outerLr), parse.GetValue(outerMomentum)),
                NoLoCo = new NoLoCoOptions(GroupSize: parse.GetValue(groupSize)),
                Compress = parse.GetValue(compress)!,
                Device = parse.GetValue(device)!,
                Http = parse.GetValue(http),
                Report = parse.GetValue(report),
                EvalBatches = parse.GetValue(evalBatches),
                ShardIndex = parse.GetValue(shardIndex),
                ShardCount = parse.GetValue(shardCount),
                CheckpointEveryRounds = parse.GetValue(checkpointEvery),
                Misbehave = parse.GetValue(misbehave),
            };
            using var logs = LoggerFactory.Create(b => b.SetMinimumLevel(Enum.Parse<LogLevel>(parse.GetValue(logLevel)!, ignoreCase: true))
                .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)   // stdout is for JSON events only
                .AddFilter("Microsoft", LogLevel.Warning));
            // SIGINT and SIGTERM both mean: finish the current step, save, exit.
            // Not disposed: a signal handler can still be running on its own thread as the command returns, and
            // cancelling a disposed source would crash the process (seen as exit 134 on a late SIGTERM).
            var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
            try { return await new NodeDaemon(settings, logs).RunAsync(stop.Token); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return 0; }   // stopped before training began
        });
        return node;
    }

    private static Option<string[]> Many(Command c, string name, string description)
    {
        var option = new Option<string[]>("--" + name) { Description = description, AllowMultipleArgumentsPerToken = false };
        c.Options.Add(option);
        return option;
    }

    private static IReadOnlyList<string> Or(string[]? values, string fallback) => values is { Length: > 0 } ? values : [fallback];

    private static TimeSpan Seconds(double value, string what) =>
        value > 0 && double.IsFinite(value) ? TimeSpan.FromSeconds(value) : throw new ArgumentException($"{what} must be a positive number of seconds");

    /// <summary>A swarm key as hex, or @path to a file holding the hex; at least 16 bytes so it cannot be guessed.</summary>
    public static byte[] ParseKey(string? text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var hex = text.StartsWith('@') ? File.ReadAllText(text[1..]).Trim() : text.Trim();
        byte[] key;
        try { key = Convert.FromHexString(hex); }
        catch (FormatException) { throw new ArgumentException("--swarm-key must be hex (e.g. from: openssl rand -hex 32)"); }
        if (key.Length < 16) throw new ArgumentException("--swarm-key must be at least 16 bytes (32 hex digits)");
        return key;
    }
}
