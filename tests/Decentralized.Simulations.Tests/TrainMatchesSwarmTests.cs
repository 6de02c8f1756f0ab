using Decentralized.Node.Training;
using Decentralized.Simulations.Swarm;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Tests;

/// <summary>
/// `decentralized train` and the daemon run the same round engine: K replicas in one process over the loopback and K of
/// the daemon's SwarmPeers on the simulated network end at the same validation loss (same seed, settings and shards),
/// for DiLoCo, NoLoCo and SparseLoCo, with and without the synchronous warm-up.
/// </summary>
[Collection("torch")]
public sealed class TrainMatchesSwarmTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData("diloco", 0, 7L)]
    [InlineData("diloco", 0, 3L)]
    [InlineData("diloco", 6, 7L)]
    [InlineData("noloco", 0, 7L)]
    [InlineData("noloco", 6, 3L)]
    [InlineData("sparseloco", 0, 7L)]
    [InlineData("sparseloco", 6, 3L)]
    public async Task TrainAndTheSimulatedSwarmEndAtTheSameValidationLoss(string method, int warmup, long seed)
    {
        const int peers = 4, h = 6, rounds = 3, evalBatches = 4;
        var algorithm = AlgorithmNames.Parse(method);
        var inner = SimCorpus.Inner with { TotalSteps = warmup + h * rounds };
        var sim = new SwarmSimulation(new SwarmSimulationOptions
        {
            Peers = peers, Algorithm = algorithm, InnerStepsPerRound = h, Rounds = rounds, SyncWarmupSteps = warmup, Seed = seed,
            Model = SimCorpus.TinyModel, Inner = inner, EvalBatches = evalBatches,
        }, SimCorpus.Data, null);
        await using var _ = sim;
        var swarm = sim.Run();
        // The simulator makes peer i the i-th member in the engine's order, as replica i is in train: the same NoLoCo groups.
        var options = new ComparisonOptions
        {
            Replicas = peers, Algorithm = algorithm, InnerStepsPerRound = h, StepsPerReplica = warmup + h * rounds, SyncWarmupSteps = warmup,
            Seed = seed, Model = SimCorpus.TinyModel, Inner = inner, EvalEvery = 0, EvalBatches = evalBatches,
        };
        using var train = new LocalComparison(options,
            i => SimCorpus.Data.ForReplica(seed, i, peers, inner.MicroBatchSize, inner.SequenceLength),
            SimCorpus.Data.Validation(inner.MicroBatchSize, inner.SequenceLength, evalBatches), "fp32", CPU);
        var local = train.Run();
        output.WriteLine($"{method} warm-up {warmup} seed {seed}: train {local.ValLoss:R}, swarm {swarm.FinalValidationLoss:R} (from {swarm.InitialValidationLoss:R})");
        Assert.True(swarm.FinalValidationLoss < swarm.InitialValidationLoss - 0.2, $"seed {seed}: the swarm did not learn");
        Assert.True(Math.Abs(local.ValLoss - swarm.FinalValidationLoss) < 1e-4,
            $"{method} warm-up {warmup} seed {seed}: train ends at {local.ValLoss:R}, the simulated swarm at {swarm.FinalValidationLoss:R}");
    }
}
