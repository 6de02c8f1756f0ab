using System.CommandLine;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized pipeline run</c>: one pipeline peer per process (one per machine), joined to the others by address.
/// The options of the pipeline itself (stages, layers, codec, CheckFree+, seed) must match across the swarm; the gate
/// refuses a peer whose do not.
/// </summary>
public static class PipelineRunCommand
{
    public static Command Create()
    {
        var c = new Command("run", "Serve one pipeline stage as a long-lived daemon and train with the other peers until stopped (SIGINT/SIGTERM). A stage's replicas average with NoLoCo (the pipeline's only outer method; node run's round options, same on every peer).");
        var stages = c.Add("stages", "Pipeline stages S (same on every peer).", 3);
        var stage = c.AddOptional<int?>("stage", "Stage to serve (0 .. S-1). Default: the stage with the fewest live replicas when this peer joins.");
        var layers = c.Add("layers-per-stage", "Decoder blocks per stage (same on every peer).", 1);
        var plus = c.Add("checkfree-plus", "CheckFree+: swapped-order microbatches so a lost first or last stage can be rebuilt by copying (same on every peer).", false);
        var codec = c.Add("codec", "Activation codec on the wire: bf16 | int8 | fp32 (same on every peer).", "bf16");
        var seed = c.Add("seed", "Swarm seed: initial weights and routing (same on every peer).", 11L);
        var listen = NodeOptions.Many(c, "listen", "Multiaddr to listen on (repeatable). Default /ip4/0.0.0.0/tcp/4002.");
        var bootstrap = NodeOptions.Many(c, "bootstrap", "Multiaddr of any pipeline peer, with /p2p/<id> (repeatable). None: start a new pipeline.");
        var keyFile = c.Add("key-file", "Identity key file (created with owner-only permissions if missing).", Path.Combine(NodeDefaults.Home, "pipeline.key"));
        var swarmId = c.Add("swarm-id", "Name of the swarm; peers of another swarm are refused.", "default");
        var swarmKey = c.AddOptional<string>("swarm-key", "Pre-shared swarm key as hex (or @file holding it); peers without it are refused.");
        var device = c.Add("device", "cpu | cuda | auto (pipeline stages run on the CPU in this build; cuda is refused).", "auto");
        var seconds = c.Add("seconds", "Stop after this many seconds (0: run until SIGINT/SIGTERM).", 0.0);
        var heartbeat = c.Add("heartbeat", "Seconds between hellos to every known peer.", 0.25);
        var peerTimeout = c.Add("peer-timeout", "Seconds of silence after which a peer counts as gone (lower: faster rebuilds; higher: fewer false alarms on slow links).", 2.0);
        var progress = c.Add("progress-seconds", "Seconds between progress events.", 2.0);
        var window = c.Add("loss-window", "Recent driver losses averaged into the progress event.", 24);
        var shardCount = c.Add("shard-count", "Shards the corpus is cut into; a stage-0 peer trains on the one its peer id hashes to.", 64);
        var innerSteps = c.Add("inner-steps", "Local AdamW steps between a stage's outer rounds (H; same on every peer).", PipelineDefaults.DefaultInnerSteps);
        var rounds = RoundSettings.Declare(c);
        var threads = c.Add("threads", "CPU threads for tensor math (0: torch's default, one per core).", 0);
        var logLevel = c.Add("log-level", "trace | debug | information | warning | error.", "information");

        c.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            var settings = new PipelineSettings
            {
                Stages = parse.GetValue(stages),
                Stage = parse.GetValue(stage),
                LayersPerStage = parse.GetValue(layers),
                CheckFreePlus = parse.GetValue(plus),
                Codec = parse.GetValue(codec)!,
                Rounds = rounds(parse),
                InnerSteps = parse.GetValue(innerSteps),
                Seed = parse.GetValue(seed),
                Listen = parse.GetValue(listen) is { Length: > 0 } l ? l : ["/ip4/0.0.0.0/tcp/4002"],
                Bootstrap = parse.GetValue(bootstrap) ?? [],
                KeyFile = parse.GetValue(keyFile)!,
                SwarmId = parse.GetValue(swarmId)!,
                SwarmKey = SwarmKeyFile.Parse(parse.GetValue(swarmKey)),
                Device = parse.GetValue(device)!,
                Duration = TimeSpan.FromSeconds(NonNegative(parse.GetValue(seconds), "--seconds")),
                Heartbeat = TimeSpan.FromSeconds(Positive(parse.GetValue(heartbeat), "--heartbeat")),
                PeerTimeout = TimeSpan.FromSeconds(Positive(parse.GetValue(peerTimeout), "--peer-timeout")),
                ProgressInterval = TimeSpan.FromSeconds(Positive(parse.GetValue(progress), "--progress-seconds")),
                LossWindow = parse.GetValue(window),
                ShardCount = parse.GetValue(shardCount),
            }.Validate();
            using var logs = DaemonHosting.Logs(parse.GetValue(logLevel)!);
            var (stop, signals) = DaemonHosting.StopOnSignals(ct);
            using var _ = signals;
            try { return await new PipelineDaemon(settings, logs).RunAsync(stop); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return 0; }   // stopped while joining
        });
        return c;
    }

    private static double Positive(double value, string name) =>
        value > 0 && double.IsFinite(value) ? value : throw new ArgumentException($"{name} must be a positive number of seconds");

    private static double NonNegative(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw new ArgumentException($"{name} must be 0 or a positive number of seconds");
}
