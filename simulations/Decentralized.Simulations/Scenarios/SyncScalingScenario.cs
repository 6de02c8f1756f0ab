using System.Globalization;
using Decentralized.Simulations.Collectives;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using Decentralized.Simulations.Output;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// Time of one outer synchronisation against the number of peers, for NoLoCo's pair exchange, ring all-reduce and
/// tree all-reduce, each run as real message exchanges on the flow model (every chunk competes for the links), with
/// a realistic payload (default: 125M parameters as int8). No training: only the exchange is timed.
/// </summary>
internal static class SyncScalingScenario
{
    public const string Name = "sync-scaling";

    private static readonly SyncPattern[] Patterns = [SyncPattern.PairExchange, SyncPattern.RingAllReduce, SyncPattern.TreeAllReduce];

    public static void Run(ScenarioContext ctx)
    {
        var o = ctx.Options;
        int max = o.Peers ?? (o.Quick ? 32 : 256);
        var sizes = new List<int>();
        for (int n = 8; n <= max; n *= 2) sizes.Add(n);
        if (sizes.Count == 0) sizes.Add(Math.Max(2, max));
        var network = ctx.Network();
        long payload = WireOverhead.Bytes(o.PayloadParameters * o.BytesPerParameter);
        ctx.Header(network.Describe().Concat(new[]
        {
            ("peer_counts", string.Join(" ", sizes)),
            ("payload_parameters", o.PayloadParameters.ToString(CultureInfo.InvariantCulture)),
            ("bytes_per_parameter", o.BytesPerParameter.ToString(CultureInfo.InvariantCulture)),
            ("payload_wire_bytes", payload.ToString(CultureInfo.InvariantCulture)),
        }));

        var times = new CsvTable("peers", "pattern", "sim_seconds", "cost_model_seconds", "bytes_sent_per_peer", "messages");
        var ratios = new CsvTable("peers", "ring_over_pair", "tree_over_pair");
        var rows = new List<(int Peers, double Pair, double Ring, double Tree)>();
        foreach (int n in sizes)
        {
            var t = new double[Patterns.Length];
            for (int k = 0; k < Patterns.Length; k++)
            {
                var (seconds, bytesPerPeer, messages) = TimeOne(Patterns[k], n, payload, network, o.Seed);
                t[k] = seconds;
                times.Add(n, PatternName(Patterns[k]), seconds, CostModel(Patterns[k], n, payload, network), bytesPerPeer, messages);
                ctx.Log.WriteLine(FormattableString.Invariant($"  {n,4} peers  {PatternName(Patterns[k]),-5} {seconds,9:0.000} s"));
            }
            rows.Add((n, t[0], t[1], t[2]));
            ratios.Add(n, t[1] / t[0], t[2] / t[0]);
        }
        times.Save(ctx.PathOf("sync_times.csv"));
        ratios.Save(ctx.PathOf("sync_ratios.csv"));
        Plot(ctx, rows);
        Save(ctx, rows, payload, network);
    }

    /// <summary>One synchronisation of <paramref name="n"/> peers in a fresh world; returns (slowest member's finish, bytes per peer, messages).</summary>
    internal static (double Seconds, long BytesPerPeer, long Messages) TimeOne(SyncPattern pattern, int n, long payload, NetworkOptions network, long seed)
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, network, new DeterministicRandom(seed).Fork($"sync/{PatternName(pattern)}/{n}"));
        var nodes = Enumerable.Range(0, n).Select(_ => flow.AddNode(null)).ToArray();
        var runner = new CollectiveRunner(scheduler, flow);
        var finished = runner.Start(pattern, nodes, new SimulatedHost?[n], payload, pairingSeed: seed, round: 0);
        scheduler.RunUntilComplete(Task.WhenAll(finished));
        return (finished.Max(f => f.Result.TotalSeconds), flow.BytesTransmitted / n, flow.MessagesDelivered);
    }

    /// <summary>
    /// The closed-form estimates the papers use, for comparison: pair t_c + L; ring 2(N−1)/N·t_c + 2(N−1)·L;
    /// tree 2·log2(N)·(t_c + L) (NoLoCo paper's model), with t_c = payload / bandwidth.
    /// </summary>
    internal static double CostModel(SyncPattern pattern, int n, long payload, NetworkOptions network)
    {
        double tc = payload * 8 / network.UplinkBitsPerSecond, latency = network.Latency.TotalSeconds;
        return pattern switch
        {
            SyncPattern.PairExchange => tc + latency,
            SyncPattern.RingAllReduce => 2.0 * (n - 1) / n * tc + 2.0 * (n - 1) * latency,
            _ => 2 * Math.Ceiling(Math.Log2(n)) * (tc + latency),
        };
    }

    internal static string PatternName(SyncPattern pattern) => pattern switch
    {
        SyncPattern.PairExchange => "pair",
        SyncPattern.RingAllReduce => "ring",
        _ => "tree",
    };

    private static void Plot(ScenarioContext ctx, List<(int Peers, double Pair, double Ring, double Tree)> rows)
    {
        var x = rows.Select(r => (double)r.Peers).ToArray();
        ctx.Chart(Charts.Lines(ctx.PathOf("sync_time_vs_peers.png"), "One outer synchronisation", "peers", "virtual seconds (log scale)",
        [
            new Charts.Series("NoLoCo pair exchange", x, rows.Select(r => r.Pair).ToArray()),
            new Charts.Series("ring all-reduce", x, rows.Select(r => r.Ring).ToArray()),
            new Charts.Series("tree all-reduce", x, rows.Select(r => r.Tree).ToArray()),
        ], logX: true, logY: true, legendLeft: true));
        ctx.Chart(Charts.Lines(ctx.PathOf("sync_speedup_vs_peers.png"), "All-reduce time / pair-exchange time", "peers", "ratio",
        [
            new Charts.Series("ring / pair", x, rows.Select(r => r.Ring / r.Pair).ToArray()),
            new Charts.Series("tree / pair", x, rows.Select(r => r.Tree / r.Pair).ToArray()),
        ], logX: true, legendLeft: true));
    }

    private static void Save(ScenarioContext ctx, List<(int Peers, double Pair, double Ring, double Tree)> rows, long payload, NetworkOptions network)
    {
        var last = rows[^1];
        ctx.SaveSummary(s => s
            .Set("payload_wire_bytes", payload)
            .Set("largest_peer_count", last.Peers)
            .Set("pair_seconds_at_largest", last.Pair)
            .Set("ring_seconds_at_largest", last.Ring)
            .Set("tree_seconds_at_largest", last.Tree)
            .Set("ring_over_pair_at_largest", last.Ring / last.Pair)
            .Set("tree_over_pair_at_largest", last.Tree / last.Pair)
            .List("by_peer_count", rows, (e, r) => e.Set("peers", r.Peers).Set("pair_seconds", r.Pair).Set("ring_seconds", r.Ring)
                .Set("tree_seconds", r.Tree).Set("ring_over_pair", r.Ring / r.Pair).Set("tree_over_pair", r.Tree / r.Pair)));
        var table = new System.Text.StringBuilder("| peers | pair (s) | ring (s) | tree (s) | ring / pair | tree / pair | paper's tree model / pair model |\n|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in rows)
            table.Append(FormattableString.Invariant(
                $"| {r.Peers} | {r.Pair:0.00} | {r.Ring:0.00} | {r.Tree:0.00} | {r.Ring / r.Pair:0.0}x | {r.Tree / r.Pair:0.0}x | {CostModel(SyncPattern.TreeAllReduce, r.Peers, payload, network) / (2 * CostModel(SyncPattern.PairExchange, r.Peers, payload, network)):0.0}x |\n"));
        ctx.SaveReport("Synchronisation time vs number of peers",
            FormattableString.Invariant($"One outer synchronisation of a {payload / 1e6:0.#} MB payload per peer, simulated message by message on the flow model ") +
            "(each peer's uplink and downlink shared max-min fairly among its transfers, propagation latency and jitter per message). " +
            "NoLoCo pairs each peer with one random partner (a trio when odd) and both send their vector; ring all-reduce runs 2(N−1) " +
            "steps of payload/N chunks, each step waiting for the previous chunk; tree all-reduce reduces full payloads up a binary tree " +
            "(a parent receives from two children at once, sharing its downlink) and broadcasts them down. The NoLoCo paper's cost model " +
            "(tree 2·t_c·log2 N against a pair exchange of 2·t_c) predicts about 10x at a few hundred peers.",
            new[]
            {
                "## Results\n\n" + table +
                FormattableString.Invariant($"\nAt {last.Peers} peers NoLoCo's pair exchange takes {last.Pair:0.00} s; ring all-reduce is {last.Ring / last.Pair:0.0}x slower and tree all-reduce {last.Tree / last.Pair:0.0}x slower. ") +
                "The ring pays 2(N−1) latencies; the tree pays 2·log2 N full-payload transfers, each doubled where two children share a parent's link.",
                "![time vs peers](sync_time_vs_peers.png)\n\n![ratio vs peers](sync_speedup_vs_peers.png)",
                "Files: `sync_times.csv` (per peer count and pattern: simulated seconds, the closed-form estimate, bytes sent per peer, messages), `sync_ratios.csv`, `summary.json`.",
            });
    }
}
