using Decentralized.Node.Training;
using Decentralized.Simulations.Training;
using Xunit.Abstractions;

namespace Decentralized.Simulations.Tests;

/// <summary>Same seed, same run; replicas stay close; a partitioned peer rejoins and catches up.</summary>
[Collection("torch")]
public sealed class ReplayAndFaultTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(21)]
    public void The_same_seed_replays_the_identical_run(long seed)
    {
        var options = TrainingSimulationTests.Options(Algorithm.NoLoCo, seed, steps: 30, h: 10) with
        {
            Network = new Network.NetworkOptions { Jitter = TimeSpan.FromMilliseconds(5), LossRate = 1e-5, PeerLatencySpread = TimeSpan.FromMilliseconds(20) },
            Compute = new Compute.ComputeOptions { Gpus = Compute.ComputeOptions.VolunteerMix, StepTimeJitter = 0.1 },
        };
        SimTrainingResult first, second, other;
        using (var sim = new TrainingSimulation(options, SimCorpus.Data)) first = sim.Run();
        using (var sim = new TrainingSimulation(options, SimCorpus.Data)) second = sim.Run();
        using (var sim = new TrainingSimulation(options with { Seed = seed + 1 }, SimCorpus.Data)) other = sim.Run();
        Assert.Equal(first.EventLog, second.EventLog);
        Assert.Equal(first.SimSeconds, second.SimSeconds);
        for (int i = 0; i < first.FinalWeights.Count; i++)
            Assert.True(first.FinalWeights[i].AsSpan().SequenceEqual(second.FinalWeights[i]), $"seed {seed}: replica {i}'s weights differ between replays");
        Assert.NotEqual(first.EventLog, other.EventLog);
        output.WriteLine(string.Join("\n", first.EventLog.Take(12)));
    }

    [Theory]
    [InlineData(8)]
    public void NoLoCo_replicas_stay_within_a_bounded_distance_of_each_other(long seed)
    {
        using var sim = new TrainingSimulation(TrainingSimulationTests.Options(Algorithm.NoLoCo, seed, replicas: 6, steps: 60, h: 10), SimCorpus.Data);
        var result = sim.Run();
        output.WriteLine(string.Join(", ", result.SpreadCurve.Select(s => $"{s.Round}:{s.Spread:0.0000}")));
        Assert.True(result.ReplicaSpread < 0.05, $"seed {seed}: spread {result.ReplicaSpread}");
        Assert.All(result.SpreadCurve, s => Assert.True(s.Spread < 0.1, $"seed {seed}: round {s.Round} spread {s.Spread}"));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(12)]
    public void A_partitioned_peer_trains_alone_then_rejoins_and_catches_up(long seed)
    {
        var options = TrainingSimulationTests.Options(Algorithm.NoLoCo, seed, replicas: 4, steps: 100, h: 5) with
        {
            RoundTimeout = TimeSpan.FromSeconds(10),
            Network = new Network.NetworkOptions { Jitter = TimeSpan.FromMilliseconds(2) },
        };
        using var sim = new TrainingSimulation(options, SimCorpus.Data);
        double atHeal = 0, beforePartition = 0;
        sim.At(TimeSpan.FromSeconds(8), () =>
        {
            beforePartition = DistanceToOthers(sim, 3);
            sim.Network.Partition(new[] { sim.PeerNetworks[3] });
        });
        sim.At(TimeSpan.FromSeconds(35), () =>
        {
            atHeal = DistanceToOthers(sim, 3);
            sim.Network.Heal();
        });
        var result = sim.Run();
        double atEnd = DistanceToOthers(sim, 3);
        output.WriteLine($"distance of peer3 from the others: before {beforePartition:0.00000}, at heal {atHeal:0.00000}, end {atEnd:0.00000}");
        var partitioned = result.EventLog.Where(l => l.Contains("peer3 round=") && l.Contains("received=[]")).ToArray();
        var rejoined = result.EventLog.Where(l => l.Contains("peer3 round=") && !l.Contains("received=[]") && Time(l) > 35).ToArray();
        Assert.True(partitioned.Length >= 2, $"seed {seed}: peer3 should have missed its partners during the partition");
        Assert.True(rejoined.Length >= 2, $"seed {seed}: peer3 should exchange again after healing");
        Assert.True(atHeal > beforePartition, $"seed {seed}: peer3 should drift while alone ({beforePartition} -> {atHeal})");
        Assert.True(atEnd < 0.5 * atHeal, $"seed {seed}: peer3 should catch up after healing ({atHeal} -> {atEnd})");
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.5);
    }

    private static double Time(string logLine) => double.Parse(logLine.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Relative L2 distance of one replica's slow weights from the mean of the others'.</summary>
    private static double DistanceToOthers(TrainingSimulation sim, int peer)
    {
        var mine = sim.SlowWeights(peer);
        var others = Enumerable.Range(0, sim.PeerNetworks.Count).Where(i => i != peer).Select(sim.SlowWeights).ToArray();
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
