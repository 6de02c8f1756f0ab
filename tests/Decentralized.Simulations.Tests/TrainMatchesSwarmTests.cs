using Decentralized.Node.Training;
using Decentralized.Simulations.Swarm;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Tests;

/// <summary>
/// `decentralized train` and the daemon run the same round engine: K replicas in one process over the loopback and K of
/// the daemon's SwarmPeers on the simulated network end at the same validation loss (same seed, settings and shards).
/// Every training scenario of `decentralized sim` runs these swarms (the convergence scenario's test checks its numbers too).
/// </summary>
[Collection("torch")]
public sealed class TrainMatchesSwarmTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(Algorithm.DiLoCo, 7L)]
    [InlineData(Algorithm.DiLoCo, 3L)]
    [InlineData(Algorithm.NoLoCo, 7L)]
    public async Task TrainAndTheSimulatedSwarmEndAtTheSameValidationLoss(Algorithm algorithm, long seed)
    {
        const int peers = 4, h = 6, rounds = 3, evalBatches = 4;
        var inner = SimCorpus.Inner with { TotalSteps = h * rounds };
        var sim = new SwarmSimulation(new SwarmSimulationOptions
        {
            Peers = peers, Algorithm = algorithm, InnerStepsPerRound = h, Rounds = rounds, Seed = seed,
            Model = SimCorpus.TinyModel, Inner = inner, EvalBatches = evalBatches,
        }, SimCorpus.Data, null);
        await using var _ = sim;
        var swarm = sim.Run();
        var options = new ComparisonOptions
        {
            Replicas = peers, Algorithm = algorithm, InnerStepsPerRound = h, StepsPerReplica = h * rounds, Seed = seed,
            Model = SimCorpus.TinyModel, Inner = inner, EvalEvery = 0, EvalBatches = evalBatches,
        };
        using var train = new LocalComparison(options,
            i => SimCorpus.Data.ForReplica(seed, i, peers, inner.MicroBatchSize, inner.SequenceLength),
            SimCorpus.Data.Validation(inner.MicroBatchSize, inner.SequenceLength, evalBatches), "fp32", CPU);
        var local = train.Run();
        output.WriteLine($"{algorithm} seed {seed}: train {local.ValLoss:R}, swarm {swarm.FinalValidationLoss:R} (from {swarm.InitialValidationLoss:R})");
        Assert.True(swarm.FinalValidationLoss < swarm.InitialValidationLoss - 0.2, $"seed {seed}: the swarm did not learn");
        Assert.True(Math.Abs(local.ValLoss - swarm.FinalValidationLoss) < 1e-4,
            $"seed {seed}: train ends at {local.ValLoss:R}, the simulated swarm at {swarm.FinalValidationLoss:R}");
    }
}
