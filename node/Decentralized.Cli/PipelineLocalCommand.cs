using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized pipeline local --stages 3 --replicas 2</c>: a pipeline-parallel swarm in this process, one libp2p
/// TCP host per peer on 127.0.0.1 (real Noise and Yamux), on the embedded corpus. Optionally kills every replica of
/// one stage mid-run to show CheckFree (or, with <c>--checkfree-plus</c>, CheckFree+) rebuilding it.
/// </summary>
public static class PipelineLocalCommand
{
    public static Command Create()
    {
        var pipeline = new Command("pipeline", "Pipeline-parallel training (stages across peers) and checkpoint-free stage recovery.");
        var c = new Command("local", "Run S stages x R replicas on 127.0.0.1 in this process; optionally kill a whole stage and watch it rebuilt. A stage's replicas average with NoLoCo (the pipeline's only outer method; node run's round options).");
        pipeline.Subcommands.Add(c);
        pipeline.Subcommands.Add(PipelineRunCommand.Create());
        var stages = c.Add("stages", "Pipeline stages S (a tiny model with S x --layers-per-stage blocks).", 3);
        var replicas = c.Add("replicas", "Replicas per stage.", 2);
        var layers = c.Add("layers-per-stage", "Decoder blocks per stage.", 1);
        var seconds = c.Add("seconds", "Run this long, then stop.", 40.0);
        var killStage = c.Add("kill-stage", "Stage whose replicas are all killed mid-run (-1: none).", -1);
        var killAfter = c.Add("kill-after", "Seconds into the run when --kill-stage is killed.", 20.0);
        var plus = c.Add("checkfree-plus", "CheckFree+: swapped-order microbatches so a lost first or last stage is rebuilt by copying.", false);
        var codec = c.Add("codec", "Activation codec on the wire: bf16 | int8 | fp32.", "bf16");
        var innerSteps = c.Add("inner-steps", "Local AdamW steps between a stage's outer rounds (H; same on every peer).", PipelineDefaults.DefaultInnerSteps);
        var rounds = RoundSettings.Declare(c);
        var json = c.Add("json", "Print one JSON object with the loss curve and recovery events at the end.", false);
        c.SetAction(async (parse, ct) =>
        {
            int s = parse.GetValue(stages), r = parse.GetValue(replicas);
            if (r is < 1 or > 8) throw new ArgumentException("--replicas must be between 1 and 8");
            var options = PipelineDefaults.Options(s, Math.Clamp(parse.GetValue(layers), 1, 8), parse.GetValue(plus), PipelineDefaults.ParseCodec(parse.GetValue(codec)!),
                seed: 11, heartbeat: TimeSpan.FromMilliseconds(200), peerTimeout: TimeSpan.FromSeconds(1.5), rounds(parse), parse.GetValue(innerSteps));
            var output = parse.GetValue(json) ? TextWriter.Null : Console.Error;
            var data = TrainingData.Open(new TrainingDataOptions(), line => output.WriteLine(line));
            var events = new List<string>();
            var peers = new List<(Libp2pHost Host, PipelinePeer Peer)>();
            var clock = Stopwatch.StartNew();
            try
            {
                for (int i = 0; i < s * r; i++)
                {
                    var host = new Libp2pHost(new Libp2pHostOptions { Identity = PrivateKey.Generate(), ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] });
                    await host.StartAsync(ct);
                    var peer = new PipelinePeer(host, TimeProvider.System, options with { Stage = i / r },
                        data.ForReplica(options.Seed, i, s * r, options.Inner.MicroBatchSize, options.Inner.SequenceLength), NullLogger.Instance);
                    peer.StageTaken += (_, e) => Event(events, output, clock, $"peer {peers.FindIndex(p => p.Peer == _)} serves stage {e.Stage} ({e.Method}{(e.Method == StageRecoveryMethod.CheckFreeAverage ? FormattableString.Invariant($", weights {e.PreviousWeight:G3} / {e.NextWeight:G3}") : "")})");
                    if (peers.Count > 0) peer.AddBootstrap(peers[0].Host.ListenAddresses[0]);
                    peers.Add((host, peer));
                    peer.Start();
                }
                return await RunAsync(parse.GetValue(seconds), parse.GetValue(killStage), parse.GetValue(killAfter), peers, events, output, clock, parse.GetValue(json), ct);
            }
            finally
            {
                foreach (var (host, peer) in peers) { await peer.DisposeAsync(); await host.DisposeAsync(); }
            }
        });
        return pipeline;
    }

    private static async Task<int> RunAsync(double seconds, int killStage, double killAfter, List<(Libp2pHost Host, PipelinePeer Peer)> peers,
        List<string> events, TextWriter output, Stopwatch clock, bool json, CancellationToken ct)
    {
        var curve = new JsonArray();
        var all = new List<PipelineLossPoint>();
        bool killed = killStage < 0;
        while (clock.Elapsed.TotalSeconds < seconds && !ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct).ContinueWith(_ => { });
            if (!killed && clock.Elapsed.TotalSeconds >= killAfter)
            {
                killed = true;
                var victims = peers.Where(p => p.Peer.Stage == killStage).ToArray();
                foreach (var v in victims) { peers.Remove(v); await v.Host.DisposeAsync(); await v.Peer.DisposeAsync(); }
                Event(events, output, clock, $"killed all {victims.Length} replicas of stage {killStage}");
            }
            all = peers.SelectMany(p => p.Peer.Losses()).OrderBy(p => p.At).ToList();
            double recent = all.Count == 0 ? double.NaN : all.TakeLast(24).Average(p => p.Loss);
            long dropped = peers.Sum(p => p.Peer.DroppedMicrobatches);
            long outerBytes = peers.Sum(p => p.Peer.OuterBytesSent);
            string layout = string.Join(" ", peers.GroupBy(p => p.Peer.Stage).OrderBy(g => g.Key).Select(g => $"s{g.Key}:{g.Count()}"));
            curve.Add(new JsonObject { ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1), ["microbatches"] = all.Count, ["loss"] = double.IsFinite(recent) ? recent : null, ["dropped"] = dropped, ["outer_bytes"] = outerBytes });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,6:0.0} s  {all.Count,6} microbatches  loss {recent,7:0.000}  dropped {dropped,4}  outer {outerBytes / 1024.0,8:0.0} KiB  stages {layout}"));
        }
        if (json)
            Console.WriteLine(new JsonObject { ["curve"] = curve, ["events"] = new JsonArray(events.Select(e => (JsonNode?)e).ToArray()), ["microbatches"] = all.Count }.ToJsonString());
        return all.Count > 0 ? 0 : 1;
    }

    private static void Event(List<string> events, TextWriter output, Stopwatch clock, string text)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds:0.0} s: {text}");
        lock (events) events.Add(line);
        output.WriteLine(line);
    }
}
