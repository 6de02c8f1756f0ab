using System.Globalization;
using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Output;
using Decentralized.Node.Swarm;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// NoLoCo with peers leaving, crashing and joining: loss against simulated time without churn and at two churn
/// rates. Departures (half graceful, half crashes) follow a Poisson process per live peer; joins arrive at the same
/// total rate so the swarm keeps its size; a joiner fetches φ and the outer momentum from a live peer over the network.
/// </summary>
internal static class ChurnScenario
{
    public const string Name = "churn";

    public static void Run(ScenarioContext ctx)
    {
        var o = ctx.Options;
        // Many peers: the smallest model keeps 64 replicas × 3 runs within minutes on a CPU.
        var shape = TrainingRuns.Base(ctx, defaultPeers: 64, defaultSteps: 80, quickSteps: 30, defaultH: 10, quickH: 5, tinyModel: true, quickPeers: 8)
            with { Algorithm = Algorithm.NoLoCo };
        var rates = o.ChurnRates ?? [10.0, 40.0];
        // Expected length of a run: steps × step time plus an exchange per round (approximate; churn beyond the end is harmless).
        var duration = TimeSpan.FromMilliseconds(o.StepTimeMs * shape.Rounds * shape.InnerStepsPerRound * 1.15);
        TrainingRuns.Header(ctx, shape, ("algorithm", "noloco"), ("codec", shape.Codec),
            ("churn_rates_per_peer_hour", string.Join(" ", rates.Select(r => r.ToString("0.###", CultureInfo.InvariantCulture)))),
            ("crash_fraction", "0.5"), ("expected_duration_s", duration.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)),
            ("peer_timeout_s", new SwarmOptions().PeerTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)));
        var configs = new List<(string Label, SwarmSimulationOptions Options)> { ("no churn", shape) };
        var random = new DeterministicRandom(o.Seed).Fork("churn");
        foreach (var rate in rates)
        {
            var schedule = ChurnSchedule.FromRates(shape.Peers, duration, rate, rate * shape.Peers, crashFraction: 0.5,
                random.Fork(rate.ToString("R", CultureInfo.InvariantCulture)), minLive: Math.Max(2, shape.Peers / 4));
            configs.Add((FormattableString.Invariant($"churn {rate:0.##}/peer-h"), WithChurn(shape, schedule)));
        }
        var runs = TrainingRuns.RunAll(ctx, configs);
        TrainingRuns.SaveTables(ctx, runs);
        var events = new CsvTable("run", "sim_seconds", "kind", "peer", "live_peers");
        foreach (var r in runs)
            foreach (var (t, kind, peer, live) in r.Result.Churn) events.Add(r.Label, t, kind, peer, live);
        events.Save(ctx.PathOf("churn_events.csv"));
        ctx.Chart(Charts.Lines(ctx.PathOf("loss_vs_time.png"), "NoLoCo under churn: validation loss vs simulated time", "simulated minutes", "validation loss",
            runs.Select(r => new Charts.Series(r.Label, r.Result.Curve.Select(p => p.SimSeconds / 60).ToArray(), r.Result.Curve.Select(p => p.ValidationLoss).ToArray())).ToArray()));
        ctx.Chart(Charts.Lines(ctx.PathOf("live_peers.png"), "Live peers", "simulated minutes", "peers",
            runs.Where(r => r.Result.Churn.Count > 0).Select(r => new Charts.Series(r.Label,
                r.Result.Churn.Select(c => c.SimSeconds / 60).Prepend(0).ToArray(), r.Result.Churn.Select(c => (double)c.Live).Prepend(shape.Peers).ToArray())).ToArray()));
        var baseline = runs[0].Result;
        ctx.SaveSummary(s =>
        {
            s.Set("peers", shape.Peers).Set("no_churn_final_val_loss", baseline.FinalValidationLoss);
            s.List("churn", runs.Skip(1).Zip(rates), (e, x) => e.Set("departures_per_peer_hour", x.Second)
                .Set("final_val_loss", x.First.Result.FinalValidationLoss)
                .Set("loss_change_vs_no_churn", x.First.Result.FinalValidationLoss / baseline.FinalValidationLoss - 1)
                .Set("joins", x.First.Result.Churn.Count(c => c.Kind == "join"))
                .Set("leaves", x.First.Result.Churn.Count(c => c.Kind == "leave"))
                .Set("crashes", x.First.Result.Churn.Count(c => c.Kind == "crash"))
                .Set("sim_seconds", x.First.Result.SimSeconds));
            TrainingRuns.SummaryRuns(s, runs);
        });
        var lines = string.Join("\n", runs.Skip(1).Select(r => FormattableString.Invariant(
            $"- {r.Label}: {r.Result.Churn.Count(c => c.Kind == "join")} joins, {r.Result.Churn.Count(c => c.Kind == "leave")} leaves, {r.Result.Churn.Count(c => c.Kind == "crash")} crashes; final loss {100 * (r.Result.FinalValidationLoss / baseline.FinalValidationLoss - 1):+0.00;-0.00}% vs no churn, {TrainingRuns.Duration(r.Result.SimSeconds)} simulated.")));
        ctx.SaveReport("NoLoCo under churn",
            FormattableString.Invariant($"{shape.Peers} NoLoCo peers train a small model for {shape.Rounds * shape.InnerStepsPerRound} inner steps each (H = {shape.InnerStepsPerRound}). ") +
            "Every peer is the daemon's own peer (membership, pairing, round engine, state sync) on the simulated network. " +
            "Peers depart at the given rate per peer-hour of simulated time (half close their connections and exit, half crash) and new peers join at the same total rate. " +
            "A joiner dials the swarm and downloads the slow weights, outer momentum and position from live peers (the daemon's state sync over the simulated network), and trains from there with a fresh AdamW state. " +
            FormattableString.Invariant($"A departed peer's partners notice through the connection reset or the round deadline (at most {shape.RoundTimeout.TotalSeconds:0} s); the membership stops pairing it after {new SwarmOptions().PeerTimeout.TotalSeconds:0} s of silence. ") +
            "The curve evaluates the lowest-numbered peer still in the swarm after each of its rounds; the final loss averages the peers in the swarm at the end.",
            new[]
            {
                TrainingRuns.Horizon(shape, baseline.Parameters, ctx.Options.CorpusPath).Replace("--algorithm diloco", "--algorithm noloco") + " (`train` has no churn: the no-churn run is the one it reproduces.)",
                "## Results\n\n" + TrainingRuns.ResultsTable(runs) + "\n" + lines,
                "![loss vs time](loss_vs_time.png)\n\n![live peers](live_peers.png)",
                "Files: `curves.csv`, `runs.csv`, `peers.csv`, `churn_events.csv`, `summary.json`.",
            });
    }

    /// <summary>The schedule's joins, leaves and crashes as the swarm simulation's (peer indices: joiners follow the starters in join order).</summary>
    private static SwarmSimulationOptions WithChurn(SwarmSimulationOptions shape, ChurnSchedule schedule) => shape with
    {
        Joins = schedule.Events.Where(e => e.Kind == ChurnKind.Join).Select(e => e.At).ToArray(),
        Leaves = schedule.Events.Where(e => e.Kind == ChurnKind.Leave).Select(e => (e.At, e.Slot)).ToArray(),
        Crashes = schedule.Events.Where(e => e.Kind == ChurnKind.Crash).Select(e => (e.At, e.Slot)).ToArray(),
    };
}
