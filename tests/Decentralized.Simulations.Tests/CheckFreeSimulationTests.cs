using System.Diagnostics;
using System.Text.Json;
using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using Decentralized.Simulations.Pipeline;
using Decentralized.Simulations.Scenarios;
using Xunit.Abstractions;

namespace Decentralized.Simulations.Tests;

/// <summary>Seeded runs of the pipeline recovery simulation: both CheckFree recoveries, the baselines, and the scenario's files.</summary>
[Collection("torch")]
public sealed class CheckFreeSimulationTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sim-checkfree-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private static PipelineRecoveryOptions Shape(long seed, RecoveryMethod method, params StageFailure[] failures) => new()
    {
        Pipeline = new PipelineOptions
        {
            Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 4, Heads: 2, ContextLength: 32),
            StageCount = 4,
            Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 5, TotalSteps: 120, MicroBatchSize: 8, SequenceLength: 32),
            Seed = seed,
        },
        Method = method,
        Failures = failures,
        Iterations = 120,
        HorizonFactor = 1.5,
        EvalEvery = 10,
        EvalBatches = 2,
        ReplicateEvery = 10,
        Seed = seed,
    };

    [Theory]
    [InlineData(5)]
    public void Both_recoveries_rebuild_lost_stages_and_keep_training_while_checkpointing_loses_work(long seed)
    {
        var clock = Stopwatch.StartNew();
        // At 2 h (about iteration 80 of 91-s iterations): lose the middle stage 2, then the first stage 0.
        StageFailure[] failures = [new(2.0, 2), new(2.01, 0)];
        var free = new PipelineRecoveryRun(Shape(seed, RecoveryMethod.FailureFree), SimCorpus.Data).Run();
        var checkFree = new PipelineRecoveryRun(Shape(seed, RecoveryMethod.CheckFree, failures), SimCorpus.Data).Run();
        var plus = new PipelineRecoveryRun(Shape(seed, RecoveryMethod.CheckFreePlus, failures), SimCorpus.Data).Run();
        var restart = new PipelineRecoveryRun(Shape(seed, RecoveryMethod.Checkpoint, failures) with { CheckpointInterval = TimeSpan.FromHours(1.5) }, SimCorpus.Data).Run();
        var again = new PipelineRecoveryRun(Shape(seed, RecoveryMethod.CheckFreePlus, failures), SimCorpus.Data).Run();
        output.WriteLine($"seed {seed}: {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var r in new[] { free, checkFree, plus, restart })
            output.WriteLine($"{r.Method}: {string.Join(" ", r.Curve.Select(p => $"{p.Hours:F1}h:{p.ValidationLoss:F3}"))}");

        Assert.Equal((1, 1), (checkFree.AveragedRebuilds, checkFree.CopiedRebuilds));
        Assert.Equal((1, 1), (plus.AveragedRebuilds, plus.CopiedRebuilds));
        Assert.Equal(plus.Curve, again.Curve);   // the same seed replays the same numbers
        double before = LossAt(plus, 2.0);
        foreach (var r in new[] { checkFree, plus })
        {
            // Recovered: training goes on and ends well below where it was when the stages were lost.
            Assert.True(r.FinalValidationLoss < before, $"seed {seed}: {r.Method} ended at {r.FinalValidationLoss:F3}, was {before:F3} at the failure");
            Assert.True(r.FinalValidationLoss < free.FinalValidationLoss * 1.15, $"seed {seed}: {r.Method} ended {r.FinalValidationLoss:F3} vs failure-free {free.FinalValidationLoss:F3}");
        }
        Assert.Equal(2, restart.Rollbacks);   // the second failure strikes during the first restart's replay
        Assert.True(restart.LostIterations > 0, $"seed {seed}: the checkpoint run lost no work");
        Assert.True(restart.Checkpoints >= 1);
    }

    private static double LossAt(PipelineRecoveryResult r, double hours) => r.Curve.Last(p => p.Hours <= hours).ValidationLoss;

    [Theory]
    [InlineData(7)]
    public void Scenario_reports_time_to_target_for_every_method_and_rate(long seed)
    {
        var clock = Stopwatch.StartNew();
        string dir = Path.Combine(_root, "a");
        var log = new StringWriter();
        var options = new SimulationRunOptions { Seed = seed, Quick = true, Steps = 40, OutputDirectory = dir };
        Assert.Equal(0, SimulationCommands.Run(CheckFreeScenario.Name, options, log, SimCorpus.Data));
        output.WriteLine(log.ToString());
        output.WriteLine($"scenario took {clock.Elapsed.TotalSeconds:F1} s");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        var rates = json.RootElement.GetProperty("by_rate").EnumerateArray().ToArray();
        Assert.Equal(3, rates.Length);
        foreach (var rate in rates)
        {
            var methods = rate.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()).ToArray();
            Assert.Equal(new[] { "checkfree", "checkfree+", "checkpoint", "redundant" }, methods);
            Assert.All(rate.GetProperty("methods").EnumerateArray(), m => Assert.True(m.TryGetProperty("hours_to_target", out _)));
        }
        Assert.True(File.Exists(Path.Combine(dir, "loss_vs_time_10pct.png")));
    }
}
