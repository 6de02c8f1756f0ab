using Decentralized.Node.Training;
using Decentralized.Simulations.Scenarios;
using Decentralized.Simulations.Swarm;
using Xunit.Abstractions;

namespace Decentralized.Simulations.Tests;

/// <summary>NoLoCo swarms of the daemon's own peer: the replicas stay close to each other without ever all-reducing.</summary>
[Collection("torch")]
public sealed class NoLoCoSpreadTests(ITestOutputHelper output)
{
    private static SwarmSimulationOptions NoLoCo(long seed, int peers, int rounds, int h) => new()
    {
        Peers = peers, Rounds = rounds, InnerStepsPerRound = h, Seed = seed, Algorithm = Algorithm.NoLoCo,
        Model = SimCorpus.TinyModel, Inner = SimCorpus.Inner with { TotalSteps = rounds * h }, EvalBatches = 2,
    };

    [Theory]
    [InlineData(8)]
    public async Task NoLoCo_replicas_stay_within_a_bounded_distance_of_each_other(long seed)
    {
        var sim = new SwarmSimulation(NoLoCo(seed, peers: 6, rounds: 6, h: 10), SimCorpus.Data);
        await using var _ = sim;
        var result = sim.Run();
        double spread = TrainingRun.Spread(result.SurvivorWeights);
        output.WriteLine($"seed {seed}: spread {spread:0.00000}, loss {result.InitialValidationLoss:0.000} -> {result.FinalValidationLoss:0.000}");
        Assert.True(spread < 0.05, $"seed {seed}: spread {spread}");
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.5);
    }
}
