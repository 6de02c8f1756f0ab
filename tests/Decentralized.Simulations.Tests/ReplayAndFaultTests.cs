using Decentralized.Node.Training;
using Decentralized.Simulations.Scenarios;
using Decentralized.Simulations.Swarm;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Tests;

/// <summary>NoLoCo swarms of the daemon's own peer: replicas stay close; a partitioned peer trains alone, rejoins and catches up.</summary>
[Collection("torch")]
public sealed class ReplayAndFaultTests(ITestOutputHelper output)
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

    [Theory]
    [InlineData(5)]
    [InlineData(12)]
    public async Task A_partitioned_peer_trains_alone_then_rejoins_and_catches_up(long seed)
    {
        var options = NoLoCo(seed, peers: 4, rounds: 20, h: 5) with
        {
            RoundTimeout = TimeSpan.FromSeconds(10),
            Network = new Network.NetworkOptions { Jitter = TimeSpan.FromMilliseconds(2) },
        };
        var sim = new SwarmSimulation(options, SimCorpus.Data);
        await using var _ = sim;
        double atHeal = 0, beforePartition = 0;
        sim.Scheduler.ScheduleAt(TimeSpan.FromSeconds(8), null, () =>
        {
            beforePartition = DistanceToOthers(sim, 3);
            sim.Network.Partition(new[] { sim.Peers[3].Net });
        });
        sim.Scheduler.ScheduleAt(TimeSpan.FromSeconds(28), null, () =>
        {
            atHeal = DistanceToOthers(sim, 3);
            sim.Network.Heal();
        });
        var result = sim.Run();
        double atEnd = DistanceToOthers(sim, 3);
        output.WriteLine($"distance of peer3 from the others: before {beforePartition:0.00000}, at heal {atHeal:0.00000}, end {atEnd:0.00000}");
        var rounds = sim.Peers[3].Rounds;
        output.WriteLine(string.Join("\n", rounds.Select(r => $"{r.At.TotalSeconds:0.0} s round {r.Report.Round}: used [{string.Join(",", r.Report.Received)}], {r.Report.ClosedBecause}")));
        Assert.True(rounds.Count(r => r.At.TotalSeconds is > 8 and < 28 && r.Report.Received.Count == 0) >= 2, $"seed {seed}: peer3 should have trained alone during the partition");
        Assert.True(rounds.Count(r => r.At.TotalSeconds > 28 && r.Report.Received.Count > 0) >= 2, $"seed {seed}: peer3 should exchange again after healing");
        Assert.True(atHeal > beforePartition, $"seed {seed}: peer3 should drift while alone ({beforePartition} -> {atHeal})");
        Assert.True(atEnd < 0.5 * atHeal, $"seed {seed}: peer3 should catch up after healing ({atHeal} -> {atEnd})");
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.5);
    }

    /// <summary>Relative L2 distance of one peer's slow weights from the mean of the others'.</summary>
    private static double DistanceToOthers(SwarmSimulation sim, int peer)
    {
        float[] Slow(int i)
        {
            using var scope = NewDisposeScope();
            return sim.Peers[i].Peer.Slow.detach().cpu().data<float>().ToArray();
        }
        var mine = Slow(peer);
        var others = Enumerable.Range(0, sim.Peers.Count).Where(i => i != peer).Select(Slow).ToArray();
        double d = 0, n = 0;
        for (int i = 0; i < mine.Length; i++)
        {
            double mean = others.Average(o => (double)o[i]);
            d += (mine[i] - mean) * (mine[i] - mean);
            n += mean * mean;
        }
        return Math.Sqrt(d / n);
    }
}
