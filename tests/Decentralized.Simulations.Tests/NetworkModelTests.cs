using Decentralized.Protocol;
using Decentralized.Simulations.Collectives;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;

namespace Decentralized.Simulations.Tests;

/// <summary>The flow model and the simulated streams: timing, fair sharing, ordering, faults.</summary>
public sealed class NetworkModelTests
{
    private static readonly NetworkOptions Wan = new() { Latency = TimeSpan.FromMilliseconds(50), Jitter = TimeSpan.Zero, UplinkBitsPerSecond = 1e9, DownlinkBitsPerSecond = 1e9 };

    [Fact]
    public void A_message_takes_latency_plus_size_over_bandwidth()
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan, new DeterministicRandom(1));
        int a = flow.AddNode(null), b = flow.AddNode(null);
        TimeSpan? arrived = null;
        flow.Send(new NetworkMessage(a, b, 125_000_000, () => arrived = scheduler.Now));   // 1 Gbit
        scheduler.RunUntilIdle();
        Assert.NotNull(arrived);
        Assert.InRange(arrived!.Value.TotalSeconds, 1.0499, 1.0501);
    }

    [Fact]
    public void Concurrent_transfers_share_the_senders_uplink_fairly()
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan with { Latency = TimeSpan.Zero }, new DeterministicRandom(1));
        int a = flow.AddNode(null), b = flow.AddNode(null), c = flow.AddNode(null);
        var done = new Dictionary<string, double>();
        flow.Send(new NetworkMessage(a, b, 62_500_000, () => done["small"] = scheduler.Now.TotalSeconds));   // 0.5 Gbit
        flow.Send(new NetworkMessage(a, c, 125_000_000, () => done["large"] = scheduler.Now.TotalSeconds));  // 1 Gbit
        scheduler.RunUntilIdle();
        // Both at 0.5 Gbit/s until the small one is done (1 s), then the large one alone at 1 Gbit/s for its last 0.5 Gbit.
        Assert.InRange(done["small"], 0.999, 1.001);
        Assert.InRange(done["large"], 1.499, 1.501);
    }

    [Fact]
    public void Max_min_fairness_gives_leftover_capacity_to_unconstrained_flows()
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan with { Latency = TimeSpan.Zero }, new DeterministicRandom(1));
        int a = flow.AddNode(null), b = flow.AddNode(null), c = flow.AddNode(null, downlinkBitsPerSecond: 2e8);
        double ab = 0, ac = 0;
        flow.Send(new NetworkMessage(a, c, 25_000_000, () => ac = scheduler.Now.TotalSeconds));   // c's downlink: 0.2 Gbit/s → 1 s
        flow.Send(new NetworkMessage(a, b, 100_000_000, () => ab = scheduler.Now.TotalSeconds));  // gets the other 0.8 Gbit/s → 1 s
        scheduler.RunUntilIdle();
        Assert.InRange(ac, 0.999, 1.001);
        Assert.InRange(ab, 0.999, 1.001);
    }

    [Fact]
    public void Messages_of_one_stream_arrive_in_order_but_streams_may_overtake_each_other()
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan with { Jitter = TimeSpan.FromMilliseconds(20) }, new DeterministicRandom(7));
        int a = flow.AddNode(null), b = flow.AddNode(null);
        var streamOne = new object();
        var order = new List<int>();
        var crossOrder = new List<int>();
        for (int i = 0; i < 200; i++)
        {
            int k = i;
            flow.Send(new NetworkMessage(a, b, 100, () => order.Add(k)) { OrderKey = streamOne });
            flow.Send(new NetworkMessage(a, b, 100, () => crossOrder.Add(k)));
        }
        scheduler.RunUntilIdle();
        Assert.Equal(Enumerable.Range(0, 200), order);
        Assert.NotEqual(Enumerable.Range(0, 200), crossOrder);   // unordered messages were reordered by jitter
        Assert.Equal(200, crossOrder.Distinct().Count());
    }

    [Fact]
    public void Loss_slows_a_bulk_transfer_to_the_tcp_throughput_bound()
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan with { LossRate = 1e-4 }, new DeterministicRandom(3));
        int a = flow.AddNode(null), b = flow.AddNode(null);
        double t = 0;
        flow.Send(new NetworkMessage(a, b, 12_500_000, () => t = scheduler.Now.TotalSeconds));
        scheduler.RunUntilIdle();
        // Mathis: 1448 B / (0.1 s · √(2e-4/3)) ≈ 1.77 MB/s, so 12.5 MB takes about 7 s instead of 0.1 s.
        Assert.InRange(t, 6.5, 7.8);
    }

    [Theory]
    [InlineData(SyncPattern.PairExchange)]
    [InlineData(SyncPattern.RingAllReduce)]
    [InlineData(SyncPattern.TreeAllReduce)]
    public void Collectives_finish_and_take_at_least_one_transfer_time(SyncPattern pattern)
    {
        var scheduler = new SimulationScheduler();
        var flow = new FlowNetwork(scheduler, Wan, new DeterministicRandom(5));
        var nodes = Enumerable.Range(0, 16).Select(_ => flow.AddNode(null)).ToArray();
        var runner = new CollectiveRunner(scheduler, flow);
        var finished = runner.Start(pattern, nodes, new SimulatedHost?[16], 12_500_000);
        scheduler.RunUntilComplete(Task.WhenAll(finished));
        double end = finished.Max(f => f.Result.TotalSeconds);
        Assert.True(end >= 0.1, $"{pattern} finished in {end} s");
        Assert.True(end < 60, $"{pattern} took {end} s");
    }
}
