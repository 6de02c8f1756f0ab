using Decentralized.Node.Swarm;

namespace Decentralized.Node.Checkpoints;

/// <summary>A daemon's state across restarts: identity of the run, round position, and the replica state.</summary>
public static class SwarmCheckpoint
{
    public static void Save(string path, SwarmPeer peer) => CheckpointFile.Write(path, w =>
    {
        w.Write(peer.ConfigHash);
        w.Write(peer.StepsInRound);
        ReplicaStateIo.Write(w, peer.Trainer, peer.Slow, peer.OuterMomentum, peer.Round, peer.Data);
    });

    public static void Load(string path, SwarmPeer peer) => CheckpointFile.Read(path, r =>
    {
        var hash = r.ReadString();
        if (hash != peer.ConfigHash) throw new CheckpointException($"checkpoint {path} belongs to config {hash}; this node runs {peer.ConfigHash} (move it away to start fresh)");
        int stepsInRound = r.ReadInt32();
        if (stepsInRound < 0 || stepsInRound > peer.Options.InnerStepsPerRound) throw new CheckpointException($"checkpoint {path} has an impossible step position");
        long round = ReplicaStateIo.Read(r, peer.Trainer, peer.Slow, peer.OuterMomentum, peer.Data);
        peer.RestorePosition(round, stepsInRound);
        return true;
    });
}
