using Decentralized.Node.Rounds;
using System.CommandLine;
using Decentralized.Node.Outer;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;

namespace Decentralized.Cli;

/// <summary>
/// The options of <c>node run</c>, shared with <c>doctor</c> so that the doctor checks exactly the setup the node will
/// run with (same config file, same swarm key and config hash, same listen and announce addresses).
/// </summary>
public static class NodeOptions
{
    /// <summary>Adds every node option to <paramref name="c"/> and returns the function that reads them back.</summary>
    public static Func<ParseResult, NodeSettings> Declare(Command c)
    {
        c.AddOptional<string>("config", "JSON file of option values (keys are option names); unknown keys are refused.");
        var listen = Many(c, "listen", "Multiaddr to listen on (repeatable). Default /ip4/0.0.0.0/tcp/4001.");
        var announce = Many(c, "announce", "Multiaddr to announce to peers instead of the automatic choice (repeatable), e.g. /ip4/<public ip>/tcp/4001 for a forwarded port. Port 0, 0.0.0.0 and loopback are refused.");
        var bootstrap = Many(c, "bootstrap", "Multiaddr of any swarm member, with /p2p/<id> (repeatable). None: start a new swarm.");
        var keyFile = c.Add("key-file", "Identity key file (created with owner-only permissions if missing).", NodeDefaults.KeyFile);
        var dataDir = c.Add("data-dir", "Where checkpoints live; a checkpoint found here is resumed.", NodeDefaults.DataDir);
        var dataOf = DataOptions.Declare(c);
        var shapeOf = ShapeOptions.Declare(c, "small", 16);
        // The learning options are train's own declaration: a swarm trains as `decentralized train` measured.
        var learningOf = LearningOptions.Declare(c, ddp: false);
        var initFrom = c.AddOptional<string>("init-from", "Start from the weights of a Hugging Face Llama directory (every member must use the same; its hash enters the gate's settings).");
        var device = c.Add("device", "cpu | cuda | auto.", "auto");
        var swarmId = c.Add("swarm-id", "Name of the swarm; peers of another swarm are refused.", "default");
        var swarmKey = c.AddOptional<string>("swarm-key", "Pre-shared swarm key as hex (or @file holding it); peers without it are refused.");
        var heartbeat = c.Add("heartbeat", "Seconds between heartbeats.", 2.0);
        var peerTimeout = c.Add("peer-timeout", "Seconds of silence after which a peer counts as dead.", 10.0);
        var minPeers = c.Add("min-peers", "Wait until the swarm has this many members (including this one) before training.", 1);
        var roundsMax = c.Add("rounds", "Stop when the swarm reaches this outer round (the round all members share, so a late joiner trains fewer rounds; a node restarted past it stops at once; 0: run until stopped).", 0L);
        var http = c.AddOptional<string>("http", "address:port for the status page, /status JSON and /metrics (e.g. 127.0.0.1:9090).");
        var report = c.AddOptional<string>("report", "Write the run's JSON summary to this file on exit (--json prints one to stdout, where commands have it).");
        var evalBatches = c.Add("eval-batches", "Validation micro-batches after each round.", 4);
        var shardIndex = c.AddOptional<int?>("shard-index", "This peer's data shard (default: from its peer id).");
        var shardCount = c.Add("shard-count", "Shards the corpus is cut into.", 64);
        var checkpointEvery = c.Add("checkpoint-every-rounds", "Checkpoint every N outer rounds (0: only on exit).", 1);
        var exportEvery = c.Add("export-every-rounds", "Export the model as a Hugging Face Llama directory (<data-dir>/model) every N outer rounds and at exit (0: never).", 0);
        var misbehave = c.AddOptional<string>("misbehave", "Testing only: send garbage | nan | huge updates, or attack (flip | near-bound | random | zeros | scaled | replay | echo | garbage-text).");
        var stateChunkKib = c.Add("state-chunk-kib", "State sync: KiB per verified chunk a joiner downloads (spread over several donors).", 4096);
        var stateJoiners = c.Add("state-joiners-max", "State sync: joiners this node serves at once; more are told to try another peer.", 2);
        var stateUpload = c.Add("state-upload-mib", "State sync: MiB/s this node uploads to joiners, all together (0: unlimited). Keeps a home uplink free for rounds.", 0.0);
        var link = c.AddOptional<string>("link", "Emulate an access link on every connection, for measuring on one machine: RATE[,latency=MS][,loss=P], e.g. 100mbit,latency=40ms (rate each way; one-way latency; loss as TCP sees it). Default: none.");
        var relay = c.Add("relay", "auto | on | off: serve as a circuit relay for peers behind NATs (auto: once AutoNAT finds us publicly reachable, or on a public IP until it knows).", "auto");
        var relayReservations = c.Add("relay-reservations", "Relay: peers that may hold a reservation on us at once.", 64);
        var relayLimitMb = c.Add("relay-limit-mb", "Relay: MiB carried per relayed connection and direction before it is reset.", 256.0);
        var relayLimitSeconds = c.Add("relay-limit-seconds", "Relay: seconds a relayed connection may last before it is reset.", 1800.0);

        return parse => Read(parse, shapeOf(parse));
        NodeSettings Read(ParseResult parse, ShapeOptions shape)
        {
            var learning = learningOf(parse);
            long rounds = parse.GetValue(roundsMax);
            return new NodeSettings
            {
                Listen = Or(parse.GetValue(listen), "/ip4/0.0.0.0/tcp/4001"),
                Bootstrap = parse.GetValue(bootstrap) ?? [],
                KeyFile = parse.GetValue(keyFile)!,
                DataDir = parse.GetValue(dataDir)!,
                Data = dataOf(parse),
                Model = shape.Model,
                InitFrom = parse.GetValue(initFrom),
                Init = learning.Init,
                // The cosine spans the run as train's spans --steps: the warm-up and --rounds x H; an open-ended run (--rounds 0)
                // decays over OpenEndedScheduleSteps.
                Inner = learning.Inner(shape, rounds > 0 ? (int)Math.Min(int.MaxValue, learning.SyncWarmupSteps + rounds * learning.InnerStepsPerRound) : OpenEndedScheduleSteps),
                Swarm = new SwarmOptions
                {
                    SwarmId = parse.GetValue(swarmId)!,
                    SwarmKey = SwarmKeyFile.Parse(parse.GetValue(swarmKey)),
                    Algorithm = learning.Algorithm,
                    InnerStepsPerRound = learning.InnerStepsPerRound,
                    SyncWarmupSteps = learning.SyncWarmupSteps,
                    SwarmSeed = learning.Seed,
                    RoundTimeout = learning.Rounds.RoundTimeout,
                    HeartbeatInterval = Seconds(parse.GetValue(heartbeat), "heartbeat"),
                    PeerTimeout = Seconds(parse.GetValue(peerTimeout), "peer timeout"),
                    RoundsMax = rounds,
                    PeersMin = parse.GetValue(minPeers),
                    Overlap = learning.Rounds.Overlap,
                    Payload = learning.Rounds.Payload,
                    UpdateNormBound = learning.Rounds.NormBound,
                    Verify = learning.Rounds.Verify,
                    StateChunkBytes = (int)Math.Clamp(parse.GetValue(stateChunkKib) * 1024L, int.MinValue, int.MaxValue),   // Validate bounds it
                    StateJoinersMax = parse.GetValue(stateJoiners),
                    StateUploadBytesPerSecond = MibPerSecond(parse.GetValue(stateUpload)),
                },
                DiLoCo = learning.DiLoCo,
                SparseLoCo = learning.SparseLoCo,
                NoLoCo = learning.Rounds.NoLoCo,
                Compress = learning.Rounds.Compress,
                WeightsCompress = learning.Rounds.WeightsCompress,
                Device = parse.GetValue(device)!,
                Http = parse.GetValue(http),
                Report = parse.GetValue(report),
                EvalBatches = parse.GetValue(evalBatches),
                ShardIndex = parse.GetValue(shardIndex),
                ShardCount = parse.GetValue(shardCount),
                CheckpointEveryRounds = parse.GetValue(checkpointEvery),
                ExportEveryRounds = parse.GetValue(exportEvery) >= 0 ? parse.GetValue(exportEvery) : throw new ArgumentException("--export-every-rounds must be 0 (never) or a number of rounds"),
                Misbehave = parse.GetValue(misbehave),
                Link = parse.GetValue(link) is { } linkText ? Decentralized.Protocol.Tcp.LinkShape.Parse(linkText) : null,
                Announce = parse.GetValue(announce) ?? [],
                Relay = new RelaySettings(parse.GetValue(relay)!, parse.GetValue(relayReservations), parse.GetValue(relayLimitMb), parse.GetValue(relayLimitSeconds)),
            };
        }
    }

    /// <summary>The learning-rate schedule's length for a node that runs until stopped (<c>--rounds 0</c>).</summary>
    public const int OpenEndedScheduleSteps = 100_000;

    /// <summary>A repeatable string option (one value per occurrence); pipeline run declares its addresses the same way.</summary>
    internal static Option<string[]> Many(Command c, string name, string description)
    {
        var option = new Option<string[]>("--" + name) { Description = description, AllowMultipleArgumentsPerToken = false };
        c.Options.Add(option);
        return option;
    }

    private static IReadOnlyList<string> Or(string[]? values, string fallback) => values is { Length: > 0 } ? values : [fallback];

    private static long MibPerSecond(double value) =>
        value >= 0 && double.IsFinite(value) ? (long)(value * (1 << 20)) : throw new ArgumentException("--state-upload-mib must be 0 (unlimited) or a positive number of MiB/s");

    internal static TimeSpan Seconds(double value, string what) =>
        value > 0 && double.IsFinite(value) ? TimeSpan.FromSeconds(value) : throw new ArgumentException($"{what} must be a positive number of seconds");
}
