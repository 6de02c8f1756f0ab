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
/// against DiLoCo and NoLoCo, 1 attacker of 4 and 2 of 8, with verification on and off, beside a clean swarm of each.
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
    public sealed record Row(Case Case, double HonestLoss, int HonestExcluding, long Refused, long Scored, double WallSeconds, double ScoringSeconds);

    public static void Run(ScenarioContext ctx)
    {
        var o = ctx.Options;
        int h = o.InnerSteps ?? 6;
        long rounds = o.Steps is { } steps ? Math.Max(1, steps / h) : (o.Quick ? 6 : 10);
        // --peers N runs one size, with a quarter of it attacking.
        var sizes = o.Peers is { } n ? [(n, Math.Max(1, n / 4))] : o.Quick ? new[] { (4, 1) } : [(4, 1), (8, 2)];
        var attacks = o.Quick ? new[] { "flip" } : Misbehaviour.Attacks.ToArray();
        ctx.Header([
            ("algorithms", "diloco noloco"), ("sizes", string.Join(" ", sizes.Select(s => $"{s.Item2}-of-{s.Item1}"))), ("attacks", string.Join(" ", attacks)),
            ("inner_steps_per_round", h.ToString(CultureInfo.InvariantCulture)), ("rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            ("codec", o.Codec), ("verify", "tolerance 0.002, clip 2x median, exclude after 3 negatives"),
        ]);
        var cases = (from algorithm in new[] { Algorithm.DiLoCo, Algorithm.NoLoCo }
                     from size in sizes
                     from attack in attacks.Prepend("none")
                     from defence in new[] { false, true }
                     select new Case(algorithm, size.Item1, attack == "none" ? 0 : size.Item2, attack, defence)).ToArray();
        var rows = cases.Select(c => RunCase(c, ctx.Data, o.Seed, h, rounds, o.Codec, ctx.Log)).ToArray();
        Save(ctx, rows);
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
            EvalBatches = 2,
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
                honest.Sum(p => p.Peer.Stats.RejectedUpdates), honest.Sum(p => p.Peer.Stats.UpdatesScored), wall, sim.Peers.Sum(p => p.Peer.Stats.ScoringSeconds));
            log?.WriteLine(FormattableString.Invariant(
                $"  {c.Algorithm,-7} {c.Attackers}-of-{c.Peers} {c.Attack,-12} defence {(c.Defence ? "on " : "off")}  honest val loss {row.HonestLoss:F4}  excluding {row.HonestExcluding}/{honest.Length}  ({wall:F1} s, scoring {row.ScoringSeconds:F1} s)"));
            return row;
        }
        finally
        {
            sim.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The honest loss's gap to the clean swarm of the same method and size without verification, in percent.</summary>
    public static double GapPercent(Row row, IReadOnlyList<Row> rows)
    {
        var clean = rows.Single(r => r.Case == new Case(row.Case.Algorithm, row.Case.Peers, 0, "none", false));
        return 100 * (row.HonestLoss - clean.HonestLoss) / clean.HonestLoss;
    }

    private static void Save(ScenarioContext ctx, Row[] rows)
    {
        var table = new CsvTable("algorithm", "peers", "attackers", "attack", "defence", "honest_final_val_loss", "gap_to_clean_percent", "honest_peers_excluding_an_attacker", "refused_updates", "updates_scored");
        foreach (var r in rows)
            table.Add(r.Case.Algorithm.ToString().ToLowerInvariant(), r.Case.Peers, r.Case.Attackers, r.Case.Attack, r.Case.Defence ? "on" : "off",
                r.HonestLoss, GapPercent(r, rows), r.HonestExcluding, r.Refused, r.Scored);
        table.Save(ctx.PathOf("attacks.csv"));
        var lines = rows.Select(r => FormattableString.Invariant(
            $"| {r.Case.Algorithm.ToString().ToLowerInvariant()} | {r.Case.Attackers} of {r.Case.Peers} | {r.Case.Attack} | {(r.Case.Defence ? "on" : "off")} | {r.HonestLoss:F4} | {Math.Round(GapPercent(r, rows), 2) + 0.0:+0.00;-0.00;0.00}% | {r.HonestExcluding} |"));
        // Cost: the clean swarms' scoring seconds against their real run time (the virtual clock does not time compute).
        // Real seconds go to the log only: the files hold simulated quantities, byte-identical for one seed.
        foreach (var r in rows.Where(r => r.Case.Attack == "none" && r.Case.Defence))
            ctx.Log.WriteLine(FormattableString.Invariant(
                $"cost: {r.Case.Algorithm.ToString().ToLowerInvariant()} {r.Case.Peers} peers: scoring {r.ScoringSeconds:F1} s of {r.WallSeconds:F1} s ({100 * r.ScoringSeconds / r.WallSeconds:F1}% of the run's real time)"));
        ctx.SaveSummary(s => s.List("rows", rows, (e, r) => e.Set("algorithm", r.Case.Algorithm.ToString().ToLowerInvariant()).Set("peers", r.Case.Peers)
            .Set("attackers", r.Case.Attackers).Set("attack", r.Case.Attack).Set("defence", r.Case.Defence).Set("honest_final_val_loss", r.HonestLoss)
            .Set("gap_to_clean_percent", GapPercent(r, rows)).Set("honest_peers_excluding_an_attacker", r.HonestExcluding)));
        ctx.SaveReport("Attacks on the swarm, with and without verification",
            "Each attack of issue 24 (`--misbehave` modes) by the last peers of a swarm of the daemon's own `SwarmPeer`s; the loss is the mean final validation loss of the honest peers, the gap is to the clean swarm of the same method and size without verification.",
            ["## Results\n\n| method | attackers | attack | verify | honest val loss | gap to clean | honest peers excluding an attacker |\n|---|---|---|---|---|---|---|\n" + string.Join("\n", lines),
             "The cost of scoring (real seconds, so in the log, not here): the `cost:` lines of the run's log.",
             "Files: `attacks.csv`, `summary.json`."]);
    }
}
