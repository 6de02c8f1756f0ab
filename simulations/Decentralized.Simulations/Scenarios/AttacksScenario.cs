using System.Diagnostics;
using System.Globalization;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Simulations.Output;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// Issue 24's attack suite on the daemon's own <see cref="SwarmPeer"/>s: each <see cref="Misbehaviour.Attacks"/> mode
/// against DiLoCo, NoLoCo and SparseLoCo (<c>--algorithms</c>), 1 attacker of 4 and 2 of 8, with verification on and off, beside a clean swarm of each.
/// The table is the honest peers' final validation loss and its gap to the clean swarm without verification. The quick
/// variant runs the sign flip only, 1 of 4; the full one (<c>sim attacks</c>) runs everything and takes a while.
/// </summary>
internal static class AttacksScenario
{
    public const string Name = "attacks";

    /// <summary>One run of the table.</summary>
    public sealed record Case(Algorithm Algorithm, int Peers, int Attackers, string Attack, bool Defence);

    /// <summary>One row: the case, the honest peers' final validation loss, what the defence did and what it cost.</summary>
    /// <param name="ScoringSeconds">Real seconds all peers spent scoring (the simulator runs every peer on one thread, so against <paramref name="WallSeconds"/> it is scoring's share of the compute).</param>
    public sealed record Row(Case Case, double HonestLoss, int HonestExcluding, long Refused, long Scored, double WallSeconds, double ScoringSeconds, long Seed = 0);

    public static void Run(ScenarioContext ctx)
    {
        var o = ctx.Options;
        int h = o.InnerSteps ?? 6;
        long rounds = o.Steps is { } steps ? Math.Max(1, steps / h) : (o.Quick ? 6 : 10);
        // --peers N runs one size, with a quarter of it attacking.
        var sizes = o.Peers is { } n ? [(n, Math.Max(1, n / 4))] : o.Quick ? new[] { (4, 1) } : [(4, 1), (8, 2)];
        var attacks = o.Attacks?.ToArray() ?? (o.Quick ? ["flip"] : Misbehaviour.Attacks.ToArray());
        var methods = (o.Algorithms ?? (o.Quick ? ["diloco", "noloco"] : ["diloco", "noloco", "sparseloco"])).Select(AlgorithmNames.Parse).Distinct().ToArray();
        ctx.Header([
            ("algorithms", string.Join(" ", methods.Select(m => m.Name()))), ("sizes", string.Join(" ", sizes.Select(s => $"{s.Item2}-of-{s.Item1}"))), ("attacks", string.Join(" ", attacks)),
            ("inner_steps_per_round", h.ToString(CultureInfo.InvariantCulture)), ("rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            ("seeds", (o.Repeats ?? 1).ToString(CultureInfo.InvariantCulture)),
            ("codec", o.Codec), ("verify", "tolerance 0.002, clip 2x median, exclude after 3 negatives"),
        ]);
        // Beside each size's clean swarm, a clean swarm of its honest peers alone: what a defence that refuses every
        // attacker's update can reach at best (the attacker's data is lost either way).
        var cases = (from algorithm in methods
                     from size in sizes
                     from c in new[] { new Case(algorithm, size.Item1 - size.Item2, 0, "none", false) }
                         .Concat(from attack in attacks.Prepend("none")
                                 from defence in new[] { false, true }
                                 select new Case(algorithm, size.Item1, attack == "none" ? 0 : size.Item2, attack, defence))
                     select c).ToArray();
        var seeds = Enumerable.Range(0, o.Repeats ?? 1).Select(i => o.Seed + i).ToArray();
        var rows = (from seed in seeds from c in cases select RunCase(c, ctx.Data, seed, h, rounds, o.Codec, ctx.Log)).ToArray();
        Save(ctx, rows, sizes);
    }

    /// <summary>One swarm: the attackers are the last start indices; the loss is the mean over the honest peers.</summary>
    public static Row RunCase(Case c, TrainingData data, long seed, int innerSteps, long rounds, string codec, TextWriter? log = null)
    {
        var options = new SwarmSimulationOptions
        {
            Algorithm = c.Algorithm,
            Peers = c.Peers,
            InnerStepsPerRound = innerSteps,
            Rounds = rounds,
            Codec = codec,
            Seed = seed,
            EvalBatches = 32,   // 16 K validation tokens: 2 batches judged the attacks on 512 tokens, a noise of a few percent
            Verify = c.Defence ? new VerifyOptions() : null,
            Attackers = Enumerable.Range(c.Peers - c.Attackers, c.Attackers).Select(i => (i, c.Attack)).ToArray(),
        };
        var clock = Stopwatch.StartNew();
        var sim = new SwarmSimulation(options, data);
        try
        {
            sim.Run();
            double wall = clock.Elapsed.TotalSeconds;
            var honest = sim.Peers.Where(p => p.Index < c.Peers - c.Attackers).ToArray();
            var attackers = sim.Peers.Where(p => p.Index >= c.Peers - c.Attackers).Select(p => p.Peer.LocalPeer.ToString()).ToHashSet();
            var row = new Row(c, honest.Average(p => p.FinalValidationLoss),
                honest.Count(p => p.Peer.Stats.Excluded.Any(attackers.Contains)),
                honest.Sum(p => p.Peer.Stats.RejectedUpdates), honest.Sum(p => p.Peer.Stats.UpdatesScored), wall, sim.Peers.Sum(p => p.Peer.Stats.ScoringSeconds), seed);
            log?.WriteLine(FormattableString.Invariant(
                $"  seed {seed} {c.Algorithm,-10} {c.Attackers}-of-{c.Peers} {c.Attack,-12} defence {(c.Defence ? "on " : "off")}  honest val loss {row.HonestLoss:F4}  excluding {row.HonestExcluding}/{honest.Length}  ({wall:F1} s, scoring {row.ScoringSeconds:F1} s)"));
            return row;
        }
        finally
        {
            sim.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The honest loss's gap to the clean swarm of the same method and size without verification, in percent.</summary>
    public static double GapPercent(Row row, IReadOnlyList<Row> rows) => Gap(row, rows, row.Case.Peers);

    /// <summary>The gap to the clean swarm of only the honest peers (same method, same seed): the best a defence can do.</summary>
    public static double GapToHonestOnlyPercent(Row row, IReadOnlyList<Row> rows) =>
        row.Case.Attackers == 0 ? double.NaN : Gap(row, rows, row.Case.Peers - row.Case.Attackers);

    private static double Gap(Row row, IReadOnlyList<Row> rows, int cleanPeers)
    {
        var clean = rows.Single(r => r.Seed == row.Seed && r.Case == new Case(row.Case.Algorithm, cleanPeers, 0, "none", false));
        return 100 * (row.HonestLoss - clean.HonestLoss) / clean.HonestLoss;
    }

    private static void Save(ScenarioContext ctx, Row[] rows, IReadOnlyList<(int Peers, int Attackers)> sizes)
    {
        var table = new CsvTable("seed", "algorithm", "peers", "attackers", "attack", "defence", "honest_final_val_loss", "gap_to_clean_percent", "gap_to_honest_only_percent", "honest_peers_excluding_an_attacker", "refused_updates", "updates_scored");
        foreach (var r in rows)
            table.Add(r.Seed, Method(r), r.Case.Peers, r.Case.Attackers, r.Case.Attack, r.Case.Defence ? "on" : "off",
                r.HonestLoss, GapPercent(r, rows), GapToHonestOnlyPercent(r, rows), r.HonestExcluding, r.Refused, r.Scored);
        table.Save(ctx.PathOf("attacks.csv"));
        // One line per case: the mean over the seeds (and the range of the gap where there are several).
        var sized = rows.Where(r => sizes.Any(s => s.Peers == r.Case.Peers)).GroupBy(r => r.Case).ToArray();
        int seedCount = rows.Select(r => r.Seed).Distinct().Count();
        string Pct(double v) => double.IsNaN(v) ? "" : FormattableString.Invariant($"{Math.Round(v, 2) + 0.0:+0.00;-0.00;0.00}%");
        string Range(IEnumerable<double> v) => seedCount < 2 ? "" : FormattableString.Invariant($" ({Pct(v.Min())} to {Pct(v.Max())})");
        var lines = sized.Select(g => FormattableString.Invariant(
            $"| {Method(g.First())} | {g.Key.Attackers} of {g.Key.Peers} | {g.Key.Attack} | {(g.Key.Defence ? "on" : "off")} | {g.Average(r => r.HonestLoss):F4} | {Pct(g.Average(r => GapPercent(r, rows)))}{Range(g.Select(r => GapPercent(r, rows)))} | {Pct(g.Key.Attackers == 0 ? double.NaN : g.Average(r => GapToHonestOnlyPercent(r, rows)))} | {g.Average(r => (double)r.HonestExcluding):0.#} |"));
        // Cost: the clean swarms' scoring seconds against their real run time (the virtual clock does not time compute).
        // Real seconds go to the log only: the files hold simulated quantities, byte-identical for one seed.
        foreach (var r in rows.Where(r => r.Case.Attack == "none" && r.Case.Defence))
            ctx.Log.WriteLine(FormattableString.Invariant(
                $"cost: seed {r.Seed} {Method(r)} {r.Case.Peers} peers: scoring {r.ScoringSeconds:F1} s of {r.WallSeconds:F1} s ({100 * r.ScoringSeconds / r.WallSeconds:F1}% of the run's real time)"));
        ctx.SaveSummary(s => s.List("rows", rows, (e, r) => e.Set("seed", r.Seed).Set("algorithm", Method(r)).Set("peers", r.Case.Peers)
            .Set("attackers", r.Case.Attackers).Set("attack", r.Case.Attack).Set("defence", r.Case.Defence).Set("honest_final_val_loss", r.HonestLoss)
            .Set("gap_to_clean_percent", GapPercent(r, rows)).Set("honest_peers_excluding_an_attacker", r.HonestExcluding)));
        ctx.SaveReport("Attacks on the swarm, with and without verification",
            "Each attack of issue 24 (`--misbehave` modes) by the last peers of a swarm of the daemon's own `SwarmPeer`s; the loss is the mean final validation loss of the honest peers, the gap is to the clean swarm of the same method and size without verification, and to a clean swarm of the honest peers alone (what a defence that refuses every attacker's update reaches at best)." +
            (seedCount > 1 ? FormattableString.Invariant($" Means over {seedCount} seeds, the gap's range in brackets.") : ""),
            ["## Results\n\n| method | attackers | attack | verify | honest val loss | gap to clean | gap to the honest peers alone | honest peers excluding an attacker |\n|---|---|---|---|---|---|---|---|\n" + string.Join("\n", lines),
             "The cost of scoring (real seconds, so in the log, not here): the `cost:` lines of the run's log.",
             "Files: `attacks.csv`, `summary.json`."]);
    }

    private static string Method(Row r) => r.Case.Algorithm.Name();
}
