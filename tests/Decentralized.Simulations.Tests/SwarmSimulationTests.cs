using Decentralized.Node.Rounds;
using Decentralized.Node.Outer;
using Decentralized.Node.Training;
using Decentralized.Simulations.Swarm;

namespace Decentralized.Simulations.Tests;

/// <summary>The daemon's own SwarmPeer on the simulated network: churn it survives, and runs that replay exactly.</summary>
[Collection("torch")]
public sealed class SwarmSimulationTests(Xunit.Abstractions.ITestOutputHelper output)
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

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public async Task NoLoCoOverALossyChainSendsWeightsAsOffsetsFromTheStartAndAJoinerUsesThemToo(bool overlap)
    {
        // With a 4-bit chain NoLoCo's partners get θ as one 8-bit vector of offsets from the initial weights (which a
        // joiner rebuilds from the swarm seed before it downloads the state) instead of a 4-bit Δ plus a 4-bit φ: fewer
        // bytes, and φ no longer crosses the wire at 4 bits.
        var options = Churned(seed: 5) with { Codec = "q4+ef", Crashes = [], Overlap = overlap };
        var anchored = Run(options);
        var split = Run(options with { Payload = Payload.DeltaAndSlow });
        await using var a = anchored.Sim;
        await using var b = split.Sim;
        Assert.Equal(0, anchored.Result.RejectedUpdates);                  // the joiner's updates decode against the same anchor
        Assert.All(anchored.Sim.Peers, p => Assert.Equal(6, p.Peer.Round));
        Assert.True(anchored.Result.FinalValidationLoss < anchored.Result.InitialValidationLoss - 0.2,
            $"loss {anchored.Result.InitialValidationLoss:F3} -> {anchored.Result.FinalValidationLoss:F3}");
        Assert.True(anchored.Result.FinalValidationLoss < split.Result.FinalValidationLoss + 0.02,
            $"anchored {anchored.Result.FinalValidationLoss:F4} vs delta+slow {split.Result.FinalValidationLoss:F4}");
        output.WriteLine($"update bytes: anchored {anchored.Result.UpdateBytesSent:N0}, delta+slow {split.Result.UpdateBytesSent:N0}; " +
            $"val loss {anchored.Result.FinalValidationLoss:F4} vs {split.Result.FinalValidationLoss:F4}");
        Assert.True(anchored.Result.UpdateBytesSent < split.Result.UpdateBytesSent * 0.9,
            $"anchored sent {anchored.Result.UpdateBytesSent} bytes, delta+slow {split.Result.UpdateBytesSent}");
    }

    [Fact]
    public async Task NoLoCoWithItsOwnPullWeightSendsSlowWeightsInBf16OverA4BitChain()
    {
        // γ ≠ β needs each partner's Δ and φ separately. Δ is an update and takes the 4-bit chain; φ is the weights
        // themselves, which 4 bits would blur: it travels in bf16, two bytes per parameter every round.
        var options = new SwarmSimulationOptions
        {
            Peers = 4, Rounds = 6, InnerStepsPerRound = 6, Seed = 5, Codec = "q4+ef",
            NoLoCo = new NoLoCoOptions(Alpha: 0.5, Beta: 1.0, Gamma: 0.5),
        };
        var split = Run(options);
        await using var a = split.Sim;
        output.WriteLine($"gamma 0.5: loss {split.Result.InitialValidationLoss:F4} -> {split.Result.FinalValidationLoss:F4}, {split.Result.UpdateBytesSent:N0} update bytes");
        Assert.Equal(0, split.Result.RejectedUpdates);
        Assert.True(split.Result.FinalValidationLoss < split.Result.InitialValidationLoss - 0.2,
            $"loss {split.Result.InitialValidationLoss:F3} -> {split.Result.FinalValidationLoss:F3}");
        long parameters = a.Peers[0].Peer.Trainer.Flat.Count;
        long slowBytesAtLeast = 2 * parameters * options.Rounds * options.Peers;   // one partner each, every round
        Assert.True(split.Result.UpdateBytesSent > slowBytesAtLeast, $"{split.Result.UpdateBytesSent:N0} bytes, φ alone is {slowBytesAtLeast:N0} in bf16");
    }

    [Fact]
    public async Task OverlappedNoLoCoLearnsAsMuchAsRoundByRoundOverAShortRun()
    {
        // With --overlap round r's exchange closes after round r+1's steps, when an outer step has already moved φ.
        // NoLoCo's pull must compare the group's weights with ours as of round r: measured against the moved φ it
        // undid part of the previous step every round, and six overlapped rounds ended at 3.11 against 2.55.
        var options = new SwarmSimulationOptions { Peers = 4, Rounds = 6, InnerStepsPerRound = 6, Seed = 5, Codec = "q4+ef" };
        var plain = Run(options);
        var overlapped = Run(options with { Overlap = true });
        await using var a = plain.Sim;
        await using var b = overlapped.Sim;
        output.WriteLine($"val loss: round by round {plain.Result.FinalValidationLoss:F4}, overlapped {overlapped.Result.FinalValidationLoss:F4}");
        Assert.Equal(0, overlapped.Result.RejectedUpdates);
        Assert.True(overlapped.Result.FinalValidationLoss < plain.Result.FinalValidationLoss + 0.1,
            $"overlapped {overlapped.Result.FinalValidationLoss:F4} vs round by round {plain.Result.FinalValidationLoss:F4}");
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

    /// <summary>Home-like links: the joiner's downlink is ten times a donor's uplink, timed for a 125M-parameter model.</summary>
    private static SwarmSimulationOptions StateSync(long seed) => new()
    {
        Peers = 3,
        Rounds = 5,
        InnerStepsPerRound = 6,
        Seed = seed,
        RepresentedParameters = 125_000_000,
        Network = new Network.NetworkOptions { UplinkBitsPerSecond = 1e9, DownlinkBitsPerSecond = 1e10 },
        RoundTimeout = TimeSpan.FromMinutes(10),
    };

    [Fact]
    public async Task SixJoinersArrivingAtOnceAllJoinOnTheCurrentRoundWhileTheDonorsTrain()
    {
        var (result, log, sim) = Run(StateSync(seed: 3) with { Joins = Enumerable.Repeat(TimeSpan.FromSeconds(20), 6).ToArray() });
        await using var _ = sim;
        var donors = sim.Peers.Where(p => !p.Joiner).ToArray();
        var joiners = sim.Peers.Where(p => p.Joiner).ToArray();
        Assert.Equal(6, joiners.Length);
        Assert.All(sim.Peers, p => Assert.Equal(5, p.Peer.Round));
        foreach (var j in joiners)
        {
            var sync = j.Peer.LastStateSync;
            Assert.NotNull(sync);
            // On the round the donors were in when the download finished, never an older one.
            var donorRound = donors.Max(d => d.Rounds.Where(r => r.At.TotalSeconds <= 20 + sync!.Seconds + 2).Select(r => r.Report.Round + 1).DefaultIfEmpty(0).Max());
            Assert.True(sync!.Round >= donorRound, $"{j.Host.Name} joined on round {sync.Round}, the donors were on {donorRound}");
        }
        // Two joiners per donor at most: everybody still got served, spread over the three donors.
        Assert.True(joiners.SelectMany(j => j.Peer.LastStateSync!.ChunksByDonor.Where(d => d.Value > 0).Select(d => d.Key)).Distinct().Count() >= 2);
        Assert.Contains(log, l => l.Contains("try another peer") || l.Contains("fetch the state elsewhere"));
        Assert.True(result.FinalValidationLoss < result.InitialValidationLoss - 0.3);
    }

    [Fact]
    public async Task ADonorKilledMidTransferDoesNotStopTheJoiner()
    {
        // The state takes tens of simulated seconds over a donor's uplink; one donor dies a few seconds in.
        var options = StateSync(seed: 4) with { Joins = [TimeSpan.FromSeconds(20)], Crashes = [(TimeSpan.FromSeconds(26), 1)] };
        var (_, log, sim) = Run(options);
        await using var _ = sim;
        var joiner = sim.Peers.Single(p => p.Joiner);
        Assert.Equal(5, joiner.Peer.Round);
        string dead = sim.Peers[1].Net.LocalPeer.ToString();
        int takeover = log.FindIndex(l => l.Contains("peer3") && l.Contains(dead) && l.Contains("the other donors take over"));
        Assert.True(takeover >= 0, "the joiner never lost a donor mid-transfer: the test did not test anything");
        Assert.Contains(log.Skip(takeover), l => l.Contains("peer3") && l.Contains("joined at round"));
    }

    [Fact]
    public async Task ThreeDonorsSyncAJoinerFasterThanOne()
    {
        async Task<double> Seconds(int donors)
        {
            var (_, _, sim) = Run(StateSync(seed: 6) with { Rounds = 3, Joins = [TimeSpan.FromSeconds(20)], StateDonorsMax = donors });
            await using var _ = sim;
            return sim.Peers.Single(p => p.Joiner).Peer.LastStateSync!.Seconds;
        }
        double one = await Seconds(1), three = await Seconds(3);
        output.WriteLine($"joiner sync time: one donor {one:F2} s, three donors {three:F2} s (simulated)");
        Assert.True(three < one * 0.6, $"one donor {one:F1} s, three donors {three:F1} s");
    }
}
