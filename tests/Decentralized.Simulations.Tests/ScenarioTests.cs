using System.Text.Json;
using Decentralized.Simulations.Scenarios;
using Xunit.Abstractions;

namespace Decentralized.Simulations.Tests;

/// <summary>Short seeded versions of every scenario, through the same entry point as <c>decentralized sim</c>.</summary>
[Collection("torch")]
public sealed class ScenarioTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sim-tests-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private (string Dir, JsonElement Summary, string Log) Run(string scenario, long seed, string tag = "", SimulationRunOptions? options = null)
    {
        string dir = Path.Combine(_root, scenario + tag);
        var log = new StringWriter();
        int code = SimulationCommands.Run(scenario, (options ?? new SimulationRunOptions()) with { Seed = seed, Quick = true, OutputDirectory = dir }, log, SimCorpus.Data);
        output.WriteLine(log.ToString());
        Assert.True(code == 0, $"seed {seed}: {scenario} exited {code}: {log}");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        return (dir, json.RootElement.Clone(), log.ToString());
    }

    [Theory]
    [InlineData(7)]
    public void Sync_scaling_pair_exchange_beats_both_all_reduces_and_files_replay_byte_for_byte(long seed)
    {
        var (first, summary, log) = Run(SyncScalingScenario.Name, seed, "-a");
        var (second, _, _) = Run(SyncScalingScenario.Name, seed, "-b");
        Assert.StartsWith($"decentralized sim sync-scaling: seed {seed}", log);
        foreach (var file in new[] { "sync_times.csv", "sync_ratios.csv", "summary.json", "report.md" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, file)), File.ReadAllBytes(Path.Combine(second, file)));
        var rows = summary.GetProperty("by_peer_count").EnumerateArray().ToArray();
        Assert.Equal(3, rows.Length);
        foreach (var r in rows)
        {
            Assert.True(r.GetProperty("ring_over_pair").GetDouble() > 1.5, $"seed {seed}: {r}");
            Assert.True(r.GetProperty("tree_over_pair").GetDouble() > 1.5, $"seed {seed}: {r}");
        }
        // The all-reduces get relatively worse as the swarm grows; the pair exchange does not.
        Assert.True(rows[^1].GetProperty("ring_over_pair").GetDouble() > rows[0].GetProperty("ring_over_pair").GetDouble());
        Assert.True(rows[^1].GetProperty("tree_over_pair").GetDouble() > rows[0].GetProperty("tree_over_pair").GetDouble());
        Assert.True(File.Exists(Path.Combine(first, "sync_time_vs_peers.png")));
    }

    [Theory]
    [InlineData(3)]
    public void Convergence_loss_falls_for_every_method_ddp_is_slowest_on_the_wan_and_files_replay(long seed)
    {
        var (dir, s, _) = Run(ConvergenceScenario.Name, seed, "-a");
        var (again, _, _) = Run(ConvergenceScenario.Name, seed, "-b");
        foreach (var file in new[] { "curves.csv", "runs.csv", "peers.csv", "summary.json", "report.md" })
            Assert.True(File.ReadAllBytes(Path.Combine(dir, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(again, file))), $"seed {seed}: {file} differs between two runs");
        foreach (var run in s.GetProperty("runs").EnumerateArray())
            Assert.True(run.GetProperty("final_val_loss").GetDouble() < run.GetProperty("initial_val_loss").GetDouble() - 0.5, $"seed {seed}: {run}");
        Assert.True(s.GetProperty("ddp_over_noloco_time").GetDouble() > 2, $"seed {seed}");
        // DDP all-reduces 2(K-1)/K gradients a step; DiLoCo's daemons send K-1 updates a round of H steps: 2H/K = 5x here.
        Assert.True(s.GetProperty("ddp_over_diloco_bytes").GetDouble() > 4, $"seed {seed}");
        Assert.True(s.GetProperty("noloco_replica_spread").GetDouble() < 0.05, $"seed {seed}");
        foreach (var file in new[] { "curves.csv", "runs.csv", "peers.csv", "report.md", "loss_vs_tokens.png", "loss_vs_time.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        // The report states its horizon and the train command that gives the same numbers; train does give them.
        string report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("H = 10 inner steps per outer round, 4 rounds (40 steps per replica", report);
        Assert.Contains("decentralized train --replicas 4 --algorithm diloco --inner-steps 10 --steps 40", report);
        var shape = TrainingRuns.Base(new ScenarioContext(ConvergenceScenario.Name, new SimulationRunOptions { Seed = seed, Quick = true, OutputDirectory = dir }, TextWriter.Null),
            defaultPeers: 4, defaultSteps: 400, quickSteps: 40, defaultH: 25, quickH: 10);
        foreach (var algorithm in new[] { Node.Training.Algorithm.DiLoCo, Node.Training.Algorithm.NoLoCo })
        {
            var options = TrainingRuns.Comparison(shape, algorithm);
            using var train = new Node.Training.LocalComparison(options,
                i => SimCorpus.Data.ForReplica(seed, i, options.Replicas, options.Inner.MicroBatchSize, options.Inner.SequenceLength),
                SimCorpus.Data.Validation(options.Inner.MicroBatchSize, options.Inner.SequenceLength, options.EvalBatches), shape.Codec, TorchSharp.torch.CPU);
            double trained = train.Run().ValLoss, simulated = s.GetProperty($"{Node.Training.AlgorithmNames.Name(algorithm)}_final_val_loss").GetDouble();
            output.WriteLine($"{algorithm}: train {trained:R}, sim convergence {simulated:R}");
            Assert.True(Math.Abs(trained - simulated) < 1e-4, $"seed {seed}: {algorithm} ends at {trained:R} through train, {simulated:R} in the simulator");
        }
    }

    [Theory]
    [InlineData(4)]
    public void Compression_shrinks_the_bytes_and_training_still_converges(long seed)
    {
        var (_, s, _) = Run(CompressionScenario.Name, seed);
        var byCodec = s.GetProperty("relative_to_fp32").EnumerateArray().ToDictionary(e => e.GetProperty("codec").GetString()!);
        Assert.InRange(byCodec["q8"].GetProperty("bytes_ratio").GetDouble(), 3.0, 4.1);
        Assert.InRange(byCodec["q4+ef"].GetProperty("bytes_ratio").GetDouble(), 5.5, 8.1);
        Assert.True(byCodec["topk:0.05+ef"].GetProperty("bytes_ratio").GetDouble() > 4);
        foreach (var run in s.GetProperty("runs").EnumerateArray())
            Assert.True(run.GetProperty("final_val_loss").GetDouble() < run.GetProperty("initial_val_loss").GetDouble() - 0.5, $"seed {seed}: {run}");
        Assert.InRange(byCodec["q8"].GetProperty("loss_change").GetDouble(), -0.05, 0.05);
    }

    [Theory]
    [InlineData(6)]
    public void Heterogeneous_overlap_cuts_noloco_idle_time(long seed)
    {
        var (_, s, _) = Run(HeterogeneousScenario.Name, seed);
        double plain = s.GetProperty("noloco_idle_fraction").GetDouble(), overlapped = s.GetProperty("noloco_overlap_idle_fraction").GetDouble();
        Assert.True(overlapped < plain, $"seed {seed}: idle {plain} without overlap, {overlapped} with");
        foreach (var run in s.GetProperty("runs").EnumerateArray())
            Assert.True(run.GetProperty("final_val_loss").GetDouble() < run.GetProperty("initial_val_loss").GetDouble() - 0.5, $"seed {seed}: {run}");
    }

    [Theory]
    [InlineData(9)]
    public void Churn_peers_come_and_go_and_the_swarm_keeps_learning(long seed)
    {
        var (dir, s, _) = Run(ChurnScenario.Name, seed, options: new SimulationRunOptions { ChurnRates = [60, 240] });
        var churn = s.GetProperty("churn").EnumerateArray().ToArray();
        Assert.Equal(2, churn.Length);
        var high = churn[1];
        Assert.True(high.GetProperty("joins").GetInt32() > 0, $"seed {seed}: {high}");
        Assert.True(high.GetProperty("leaves").GetInt32() + high.GetProperty("crashes").GetInt32() > 0, $"seed {seed}: {high}");
        foreach (var run in s.GetProperty("runs").EnumerateArray())
            Assert.True(run.GetProperty("final_val_loss").GetDouble() < run.GetProperty("initial_val_loss").GetDouble() - 0.5, $"seed {seed}: {run}");
        Assert.True(File.ReadAllLines(Path.Combine(dir, "churn_events.csv")).Length > 2);
    }

    [Theory]
    [InlineData(5)]
    public void Swarm_the_daemons_own_logic_survives_a_crash_takes_joiners_and_replays_byte_for_byte(long seed)
    {
        var (first, summary, _) = Run(SwarmScenario.Name, seed, "-a");
        var (second, _, _) = Run(SwarmScenario.Name, seed, "-b");
        foreach (var file in new[] { "log.txt", "rounds.csv", "peers.csv", "curves.csv", "summary.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, file)), File.ReadAllBytes(Path.Combine(second, file)));
        Assert.True(summary.GetProperty("final_val_loss").GetDouble() < summary.GetProperty("initial_val_loss").GetDouble() - 0.5, summary.ToString());
        Assert.All(summary.GetProperty("joiners").EnumerateArray(), j => Assert.Equal(summary.GetProperty("rounds").GetInt64(), j.GetProperty("final_round").GetInt64()));
        Assert.Contains("crashed (simulated kill -9)", File.ReadAllText(Path.Combine(first, "log.txt")));
    }

    [Fact]
    public void Bad_input_is_refused_with_a_message_not_a_crash()
    {
        var log = new StringWriter();
        Assert.Equal(2, SimulationCommands.Run("nope", new SimulationRunOptions(), log));
        Assert.Contains("sync-scaling", log.ToString());
        Assert.Equal(2, SimulationCommands.Run("sync-scaling", new SimulationRunOptions { BytesPerParameter = 3, OutputDirectory = _root }, log));
        Assert.Equal(2, SimulationCommands.Run("convergence", new SimulationRunOptions { Codec = "zip", OutputDirectory = _root }, log));
        Assert.Contains("error:", log.ToString());
    }
}
