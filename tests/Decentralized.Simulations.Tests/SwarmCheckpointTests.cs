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

    [Fact]
    public async Task ANonFiniteStateIsNeverWrittenAndTheStoreKeepsARotationOfGoodOnes()
    {
        // Issue 26 item 4: a diverged daemon used to overwrite its last good checkpoint with NaN weights on exit.
        var dir = Directory.CreateTempSubdirectory("swarm-rotation-").FullName;
        var network = new SimulatedNetwork(new SimulationScheduler(), new NetworkOptions(), new DeterministicRandom(1));
        try
        {
            var store = new CheckpointStore(dir, NullLogger.Instance, keep: 3);
            var (peer, _) = Peer(network, "a");
            await using (peer)
            {
                for (long round = 1; round <= 4; round++)
                {
                    peer.RestorePosition(round, 0);
                    Assert.True(store.TrySave(peer));
                }
                Assert.Equal([store.Path, store.Path + ".1", store.Path + ".2"], store.Files);
                var good = File.ReadAllBytes(store.Path);
                using (no_grad()) peer.Trainer.Flat.Parameters[1].fill_(float.NaN);
                Assert.Equal($"weights {peer.Trainer.Flat.Names[1]}", peer.FirstNonFiniteTensor());
                Assert.Throws<NonFiniteStateException>(() => SwarmCheckpoint.Save(store.Path, peer));
                Assert.False(store.TrySave(peer));
                Assert.Equal(good, File.ReadAllBytes(store.Path));
                Assert.Equal(4, store.Round);
                Assert.True(store.Failing);
            }
            // A checkpoint written with NaN by an older build is skipped for the newest finite one.
            var (writer, _) = Peer(network, "b");
            await using (writer)
            {
                using (no_grad()) writer.Trainer.Flat.Parameters[0].fill_(float.PositiveInfinity);
                writer.RestorePosition(5, 0);
                CheckpointFile.Write(store.Path, w => SwarmCheckpoint.WritePayload(w, writer), keep: 3);
            }
            var (loaded, _) = Peer(network, "c");
            await using (loaded)
            {
                Assert.Equal(store.Path + ".1", new CheckpointStore(dir, NullLogger.Instance).LoadNewestGood(loaded));
                Assert.Equal(4, loaded.Round);
                Assert.Null(loaded.FirstNonFiniteTensor());
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
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
