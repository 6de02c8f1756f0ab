using Decentralized.Node.Swarm;

namespace Decentralized.Node.Checkpoints;

/// <summary>A daemon's state across restarts: identity of the run, round position, the replica state and its codecs' error-feedback residuals.</summary>
public static class SwarmCheckpoint
{
    // A daemon's codec streams: "delta", "fast", "slow", "anchored" (a margin on top).
    private const int StreamsMax = 16;

    /// <summary>
    /// Saves the peer's state to <paramref name="path"/>, keeping <paramref name="keep"/> files in rotation (see
    /// <see cref="CheckpointFile.Write"/>). A state holding NaN or ±Inf is refused with <see cref="NonFiniteStateException"/>
    /// before anything is written: a diverged run must never replace its last good checkpoint.
    /// </summary>
    public static void Save(string path, SwarmPeer peer, int keep = 1)
    {
        if (peer.FirstNonFiniteTensor() is { } bad)
            throw new NonFiniteStateException($"not writing {path}: the state is not finite ({bad})");
        CheckpointFile.Write(path, w => WritePayload(w, peer), keep);
    }

    /// <summary>The payload as it goes inside the container, unchecked (tests write what an older build could have written).</summary>
    internal static void WritePayload(BinaryWriter w, SwarmPeer peer)
    {
        w.Write(peer.ConfigHash);
        w.Write(peer.StepsInRound);
        ReplicaStateIo.Write(w, peer.Trainer, peer.Slow, peer.OuterMomentum, peer.Round, peer.Data);
        foreach (var codec in peer.Codecs) FeedbackIo.Write(w, codec.Feedback.Select(e => (e.Key, e.Value)).ToArray());
    }

    /// <summary>The swarm config hash and the weights of a daemon's checkpoint (node.ckpt), read without a live peer.</summary>
    public static (string ConfigHash, float[] Weights) ReadWeights(string path, long valuesMax) => CheckpointFile.Read(path, r =>
    {
        var hash = r.ReadString();
        r.ReadInt32();   // steps into the round
        return (hash, ReplicaStateIo.ReadWeights(r, valuesMax));
    });

    public static void Load(string path, SwarmPeer peer) => CheckpointFile.Read(path, r =>
    {
        var hash = r.ReadString();
        if (hash != peer.ConfigHash) throw new CheckpointException($"checkpoint {path} belongs to config {hash}; this node runs {peer.ConfigHash} (move it away to start fresh)");
        int stepsInRound = r.ReadInt32();
        if (stepsInRound < 0 || stepsInRound > peer.Options.InnerStepsPerRound) throw new CheckpointException($"checkpoint {path} has an impossible step position");
        long round = ReplicaStateIo.Read(r, peer.Trainer, peer.Slow, peer.OuterMomentum, peer.Data);
        // Checkpoints written before residuals were kept end here: those resume with empty residuals, as they always did.
        foreach (var codec in peer.Codecs.TakeWhile(_ => r.BaseStream.Position < r.BaseStream.Length))
            FeedbackIo.ReadInto(r, codec.FeedbackOf, StreamsMax, peer.Trainer.Flat.Names.Count, peer.Trainer.Flat.Count, path);
        peer.RestorePosition(round, stepsInRound);
        return true;
    });
}
