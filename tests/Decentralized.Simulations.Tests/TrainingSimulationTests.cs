using Decentralized.Node.Training;
using Decentralized.Simulations.Training;
using Xunit.Abstractions;

namespace Decentralized.Simulations.Tests;

/// <summary>Real training in virtual time: loss falls, replicas stay close, runs replay.</summary>
[Collection("torch")]
public sealed class TrainingSimulationTests(ITestOutputHelper output)
{
    internal static SimTrainingOptions Options(Algorithm algorithm, long seed, int replicas = 4, int steps = 40, int h = 10) => new()
    {
        Algorithm = algorithm,
        Replicas = replicas,
        InnerStepsPerRound = h,
        StepsPerReplica = steps,
        Model = SimCorpus.TinyModel,
        Inner = SimCorpus.Inner,
        EvalEvery = 0,
        EvalBatches = 2,
        Seed = seed,
    };

    [Theory]
    [InlineData(Algorithm.NoLoCo, 3)]
    [InlineData(Algorithm.DiLoCo, 4)]
    [InlineData(Algorithm.Ddp, 5)]
    public void Loss_falls_and_virtual_time_advances(Algorithm algorithm, long seed)
    {
        using var sim = new TrainingSimulation(Options(algorithm, seed, steps: algorithm == Algorithm.Ddp ? 20 : 40), SimCorpus.Data);
        var result = sim.Run();
        output.WriteLine($"{algorithm} seed {seed}: {result.InitialValidationLoss:0.000} -> {result.FinalValidationLoss:0.000}, sim {result.SimSeconds:0.0} s, bytes {result.BytesSentPerReplica}, idle {result.IdleFraction:P1}");
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.5,
            $"seed {seed}: loss {result.InitialValidationLoss} -> {result.FinalValidationLoss}");
        Assert.True(result.SimSeconds > 0);
        Assert.True(result.BytesSentPerReplica > 0);
    }
}
