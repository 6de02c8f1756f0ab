using System.Globalization;
using Decentralized.Simulations.Output;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// The daemon's own swarm logic (<see cref="Node.Swarm.SwarmPeer"/>, unchanged) on a simulated WAN: NoLoCo peers with
/// one crash and two joiners that fetch the swarm's state mid-run. What a user would see in the daemons' logs, with
/// virtual timestamps: every round's partners, waits and why it closed.
/// </summary>
internal static class SwarmScenario
{
    public const string Name = "swarm";

    public static void Run(ScenarioContext ctx)
    {
        var o = ctx.Options;
        int peers = o.Peers ?? (o.Quick ? 4 : 8);
        int h = o.InnerSteps ?? (o.Quick ? 6 : 10);
        long rounds = o.Steps is { } steps ? Math.Max(1, steps / h) : (o.Quick ? 4 : 12);
        // Expected time of a round: H steps plus an exchange; crash and joins are placed on fractions of the run.
        double round = h * o.StepTimeMs / 1000 + 1;
        var options = new SwarmSimulationOptions
        {
            Peers = peers,
            InnerStepsPerRound = h,
            Rounds = rounds,
            Codec = o.Codec,
            Seed = o.Seed,
            Network = ctx.Network(),
            Compute = ctx.Compute(),
            RepresentedParameters = o.RepresentedParameters,
            EvalBatches = o.Quick ? 2 : 8,
            Crashes = [(TimeSpan.FromSeconds(round * rounds * 0.4), peers - 1)],
            Joins = [TimeSpan.FromSeconds(round * rounds * 0.3), TimeSpan.FromSeconds(round * rounds * 0.6)],
        };
        ctx.Header([
            ("peers", peers.ToString(CultureInfo.InvariantCulture)), ("algorithm", "noloco"), ("inner_steps_per_round", h.ToString(CultureInfo.InvariantCulture)),
            ("rounds", rounds.ToString(CultureInfo.InvariantCulture)), ("codec", o.Codec),
            ("latency_ms", o.LatencyMs.ToString(CultureInfo.InvariantCulture)), ("bandwidth_gbps", o.BandwidthGbps.ToString(CultureInfo.InvariantCulture)),
            ("represented_params", o.RepresentedParameters.ToString(CultureInfo.InvariantCulture)), ("step_time_ms", o.StepTimeMs.ToString(CultureInfo.InvariantCulture)),
            ("crash", FormattableString.Invariant($"peer{peers - 1} at {options.Crashes[0].At.TotalSeconds:0.#} s")),
            ("joins_s", string.Join(" ", options.Joins.Select(j => j.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)))),
        ]);
        var sim = new SwarmSimulation(options, ctx.Data);
        SwarmSimulationResult result;
        try
        {
            result = sim.Run();
        }
        finally
        {
            File.WriteAllLines(ctx.PathOf("log.txt"), sim.Log);
        }

        var roundsTable = new CsvTable("peer", "round", "sim_seconds", "partners", "received", "rejected", "wait_seconds", "closed_because", "update_bytes_sent");
        var curves = new CsvTable("peer", "sim_seconds", "step", "train_loss");
        var peersTable = new CsvTable("peer", "joiner", "started_s", "crashed_s", "joined_at_round", "final_round", "final_val_loss", "update_bytes_sent", "state_bytes_served");
        foreach (var p in sim.Peers)
        {
            foreach (var (at, r) in p.Rounds)
                roundsTable.Add(p.Host.Name, r.Round, at.TotalSeconds, r.Partners.Count, r.Received.Count, r.Rejected.Count, r.WaitSeconds, r.ClosedBecause, r.BytesSent);
            foreach (var (at, step, loss) in p.Losses) curves.Add(p.Host.Name, at.TotalSeconds, step, loss);
            peersTable.Add(p.Host.Name, p.Joiner, p.StartedAt.TotalSeconds, p.Crashed ? p.CrashedAt.TotalSeconds : null, p.JoinedAtRound, p.Peer.Round,
                p.Crashed ? null : p.FinalValidationLoss, p.Peer.Stats.UpdateBytesSent, p.Peer.Stats.StateBytesServed);
        }
        roundsTable.Save(ctx.PathOf("rounds.csv"));
        curves.Save(ctx.PathOf("curves.csv"));
        peersTable.Save(ctx.PathOf("peers.csv"));
        ctx.Chart(Charts.Lines(ctx.PathOf("loss_vs_time.png"), "Real SwarmPeers on a simulated WAN: training loss per peer", "simulated seconds", "training loss",
            sim.Peers.Select(p => new Charts.Series(p.Host.Name, p.Losses.Select(l => l.At.TotalSeconds).ToArray(), p.Losses.Select(l => l.Loss).ToArray())).ToArray()));

        var waits = sim.Peers.SelectMany(p => p.Rounds).Select(r => r.Report.WaitSeconds).ToArray();
        var joiners = sim.Peers.Where(p => p.Joiner).ToArray();
        ctx.SaveSummary(s => s
            .Set("peers", peers).Set("rounds", rounds).Set("parameters", sim.Parameters)
            .Set("initial_val_loss", result.InitialValidationLoss).Set("final_val_loss", result.FinalValidationLoss)
            .Set("sim_seconds", result.SimSeconds).Set("update_bytes_sent", result.UpdateBytesSent).Set("rejected_updates", result.RejectedUpdates)
            .Set("mean_round_wait_s", waits.Length > 0 ? waits.Average() : 0).Set("max_round_wait_s", waits.Length > 0 ? waits.Max() : 0)
            .List("joiners", joiners, (e, j) => e.Set("peer", j.Host.Name).Set("started_s", j.StartedAt.TotalSeconds).Set("joined_at_round", j.JoinedAtRound).Set("final_round", j.Peer.Round)));
        ctx.SaveReport("Real swarm logic on a simulated WAN",
            FormattableString.Invariant($"{peers} peers run the daemon's own `SwarmPeer` (membership gossip, NoLoCo pairing, update transfers through the `{o.Codec}` codec, adaptive round deadlines, state sync) on the simulated network; ") +
            "only the processes, links and GPUs are modelled. One peer is killed mid-run and two new peers join and fetch the swarm's state. `log.txt` holds every daemon's log lines with virtual timestamps. " +
            FormattableString.Invariant($"Horizon and scale: H = {h} inner steps per round, {rounds} rounds ({h * rounds} steps per peer) from scratch, with no synchronous warm-up, ") +
            FormattableString.Invariant($"{peers} starting peers of a {sim.Parameters:N0}-parameter model (dim {options.Model.Dim}, {options.Model.Layers} layers), batch {options.Inner.MicroBatchSize} x {options.Inner.SequenceLength}, the daemon's default outer settings; ") +
            "the last round hands over each group's average.",
            [
                "## Results\n\n" + FormattableString.Invariant(
                    $"Validation loss {result.InitialValidationLoss:F3} → {result.FinalValidationLoss:F3} (mean over surviving peers) in {TrainingRuns.Duration(result.SimSeconds)} simulated; ") +
                FormattableString.Invariant($"rounds waited {(waits.Length > 0 ? waits.Average() : 0):F2} s on average (max {(waits.Length > 0 ? waits.Max() : 0):F1} s); {result.RejectedUpdates} updates rejected. ") +
                string.Join(" ", joiners.Select(j => FormattableString.Invariant($"{j.Host.Name} joined at {j.StartedAt.TotalSeconds:0.#} s on round {j.JoinedAtRound}."))),
                "![loss vs time](loss_vs_time.png)",
                "Files: `rounds.csv` (one line per peer and round: partners, arrivals, wait, why it closed), `curves.csv`, `peers.csv`, `log.txt`, `summary.json`.",
            ]);
        sim.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
