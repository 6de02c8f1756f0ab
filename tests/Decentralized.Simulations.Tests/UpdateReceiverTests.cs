using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Tests;

/// <summary>
/// Issue 26 item 3 on the virtual clock: a key holder's update headers cost the receiver nothing it did not send.
/// A declared size beyond this model's largest update is refused at once; a plausible one that never arrives is
/// dropped when the round timeout expires, not held forever.
/// </summary>
public sealed class UpdateReceiverTests
{
    private static readonly TimeSpan RoundTimeout = TimeSpan.FromSeconds(30);

    private static (SimulationScheduler Scheduler, SimulatedPeerNetwork Victim, SimulatedPeerNetwork Sender, SwarmPeer Peer) World()
    {
        var scheduler = new SimulationScheduler();
        var network = new SimulatedNetwork(scheduler, new NetworkOptions { Jitter = TimeSpan.Zero }, new DeterministicRandom(1));
        var victim = network.CreatePeer(new SimulatedHost(scheduler, "victim"));
        var sender = network.CreatePeer(new SimulatedHost(scheduler, "sender"));
        var model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32);
        var trainer = new InnerTrainer(new ModelStage(model, seed: 1), SimCorpus.Inner, CPU);
        var options = new SwarmOptions { Algorithm = Algorithm.NoLoCo, InnerStepsPerRound = 5, SwarmSeed = 1, RoundTimeout = RoundTimeout };
        var peer = new SwarmPeer(options, victim, victim.Host.Time, new Random(1), trainer, SimCorpus.Data.ForReplica(1, 0, 2, 4, 32),
            new ChainUpdateCodec("fp32", trainer.Flat), new DiLoCoOptions(), new NoLoCoOptions(), NullLogger.Instance);
        return (scheduler, victim, sender, peer);
    }

    /// <summary>Sends one header declaring <paramref name="declared"/> bytes and nothing more; returns the acknowledgement (null: the stream was dropped) and when it came.</summary>
    private static (int? Ack, TimeSpan After) HeaderOnly(long declared)
    {
        var (scheduler, victim, sender, peer) = World();
        var done = new TaskCompletionSource<(int?, TimeSpan)>();
        sender.Host.Start(async () =>
        {
            await sender.DialAsync(victim.ListenAddresses[0], CancellationToken.None);
            var stream = await sender.OpenStreamAsync(victim.LocalPeer, SwarmProtocols.Update, CancellationToken.None);
            await MessageIo.WriteAsync(stream, new UpdateHeader(0, Payload.FastWeights, declared), CancellationToken.None);
            var start = scheduler.Now;
            var ack = new byte[1];
            int? answer;
            try { answer = await stream.ReadAsync(ack) == 1 ? ack[0] : null; }
            catch (Exception) { answer = null; }
            done.SetResult((answer, scheduler.Now - start));
        });
        var result = scheduler.RunUntilComplete(done.Task, TimeSpan.FromHours(1));
        Assert.Equal(1, peer.Stats.RejectedUpdates);
        return result;
    }

    [Fact]
    public void AHeaderDeclaringMoreThanThisModelsLargestUpdateIsRefusedAtOnce()
    {
        var (ack, after) = HeaderOnly(1L << 30);
        Assert.Equal(0, ack);
        Assert.True(after < TimeSpan.FromSeconds(1), $"refused after {after}");
    }

    [Fact]
    public void AnUpdateThatNeverArrivesIsDroppedWhenTheRoundTimeoutExpires()
    {
        var (ack, after) = HeaderOnly(64 * 1024);
        Assert.Null(ack);
        Assert.InRange(after, RoundTimeout - TimeSpan.FromSeconds(1), RoundTimeout + TimeSpan.FromSeconds(2));
    }
}
