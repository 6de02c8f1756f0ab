using Decentralized.Node.Training;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Tests;

/// <summary>The daemon's own SwarmPeer on the simulated network: churn it survives, and runs that replay exactly.</summary>
[Collection("torch")]
public sealed class SwarmSimulationTests
{
    private static SwarmSimulationOptions Churned(long seed) => new()
    {
        Peers = 4,
        Rounds = 6,
        InnerStepsPerRound = 6,
        Seed = seed,
        Crashes = [(TimeSpan.FromSeconds(9), 2)],   // mid round 2 (rounds take about 3 s of compute plus the exchange)
        Joins = [TimeSpan.FromSeconds(12)],
    };

    private static (SwarmSimulationResult Result, List<string> Log, SwarmSimulation Sim) Run(SwarmSimulationOptions options)
    {
        var sim = new SwarmSimulation(options, SimCorpus.Data, Environment.GetEnvironmentVariable("SWARM_SIM_LOG") is { } f ? new StreamWriter(f) { AutoFlush = true } : null);
        return (sim.Run(), sim.Log, sim);
    }

    [Fact]
    public async Task RealSwarmPeersTrainThroughACrashAndAJoinerCatchesUp()
    {
        var (result, log, sim) = Run(Churned(seed: 5));
        await using var _ = sim;
        var survivors = sim.Peers.Where(p => !p.Crashed).ToArray();
        Assert.Equal(4, survivors.Length);                                  // three starters + the joiner
        Assert.All(survivors, p => Assert.Equal(6, p.Peer.Round));          // everyone finished every round
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.2,
            $"loss {result.InitialValidationLoss:F3} -> {result.FinalValidationLoss:F3}");
        var joiner = sim.Peers.Single(p => p.Joiner);
        Assert.True(joiner.JoinedAtRound >= 1, $"joiner started at round {joiner.JoinedAtRound}: it should have fetched the swarm's state");
        Assert.Contains(log, l => l.Contains("peer4") && l.Contains("state", StringComparison.OrdinalIgnoreCase));
        // The crashed peer cost its partners a wait, never a hang: the rounds after the crash still closed.
        Assert.Contains(log, l => l.Contains("crashed (simulated kill -9)"));
        Assert.Equal(0, result.RejectedUpdates);
    }

    [Fact]
    public async Task TheSameSeedReplaysTheSameLogAndWeights()
    {
        var first = Run(Churned(seed: 9) with { Rounds = 3, Joins = [] , Crashes = [(TimeSpan.FromSeconds(5), 1)] });
        var second = Run(Churned(seed: 9) with { Rounds = 3, Joins = [], Crashes = [(TimeSpan.FromSeconds(5), 1)] });
        await using var a = first.Sim;
        await using var b = second.Sim;
        Assert.Equal(first.Log, second.Log);
        Assert.Equal(first.Result.SurvivorWeights.Count, second.Result.SurvivorWeights.Count);
        for (int i = 0; i < first.Result.SurvivorWeights.Count; i++)
            Assert.Equal(first.Result.SurvivorWeights[i], second.Result.SurvivorWeights[i]);
    }
}
