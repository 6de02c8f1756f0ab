using Decentralized.Node.Rounds;
using Decentralized.Node.Checkpoints;
using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Swarm;
using Decentralized.Node.Training;
using Decentralized.Simulations.Core;
using Decentralized.Simulations.Network;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace Decentralized.Simulations.Tests;

/// <summary>A daemon's checkpoint carries what its compressed streams still owe the swarm (error feedback).</summary>
public sealed class SwarmCheckpointTests
{
    [Fact]
    public async Task CheckpointKeepsTheErrorFeedbackResidualsOfBothCodecs()
    {
        // NoLoCo over q4+ef with the anchored weights codec (q8+ef here, so it keeps residuals too): a restarted
        // daemon must owe its partners exactly what it owed before, not start from empty residuals.
        var path = Path.Combine(Path.GetTempPath(), $"swarm-ef-{Guid.NewGuid():N}.ckpt");
        var network = new SimulatedNetwork(new SimulationScheduler(), new NetworkOptions(), new DeterministicRandom(1));
        try
        {
            var (saved, savedCodecs) = Peer(network, "a");
            await using (saved)
            {
                var values = Enumerable.Range(0, (int)saved.Trainer.Flat.Count).Select(i => MathF.Sin(i * 0.37f) * 1e-2f).ToArray();
                savedCodecs[0].Encode(values, "delta", 3);
                savedCodecs[0].Encode(values, "slow", 3);
                savedCodecs[1].Encode(values, "anchored", 3);
                SwarmCheckpoint.Save(path, saved);
            }
            var (loaded, loadedCodecs) = Peer(network, "b");
            await using (loaded)
            {
                SwarmCheckpoint.Load(path, loaded);
                for (int c = 0; c < 2; c++)
                {
                    var before = savedCodecs[c].Feedback;
                    var after = loadedCodecs[c].Feedback;
                    Assert.Equal(before.Keys.Order(), after.Keys.Order());
                    foreach (var (stream, state) in before)
                    {
                        Assert.NotEmpty(state.Names);
                        foreach (var name in state.Names)
                        {
                            Assert.True(state.GetResidual(name).ToArray().Any(v => v != 0), $"{stream}/{name} kept no error");
                            Assert.Equal(state.GetResidual(name).ToArray(), after[stream].GetResidual(name).ToArray());
                        }
                    }
                }
            }
        }
        finally { File.Delete(path); }
    }

    private static (SwarmPeer Peer, IUpdateCodec[] Codecs) Peer(SimulatedNetwork network, string name)
    {
        var model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32);
        var trainer = new InnerTrainer(new ModelStage(model, seed: 1), SimCorpus.Inner, CPU);
        var codecs = new IUpdateCodec[] { new ChainUpdateCodec("q4+ef", trainer.Flat), new ChainUpdateCodec("q8+ef", trainer.Flat) };
        var options = new SwarmOptions { Algorithm = Algorithm.NoLoCo, InnerStepsPerRound = 5, SwarmSeed = 1 };
        var peer = new SwarmPeer(options, network.CreatePeer(new SimulatedHost(network.Scheduler, name)), TimeProvider.System, new Random(1), trainer,
            SimCorpus.Data.ForReplica(1, 0, 2, 4, 32), codecs[0], new DiLoCoOptions(), new NoLoCoOptions(), NullLogger.Instance, codecs[1]);
        return (peer, codecs);
    }
}
