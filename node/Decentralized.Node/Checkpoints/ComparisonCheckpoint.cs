using Decentralized.Kernels;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// The full state of an in-process run: per replica the model, AdamW moments, outer φ and momentum,
/// round and data position; plus the loop position, byte counters, the replicas' shared anchor and the codecs'
/// error-feedback residuals. Resuming from it continues exactly, compressed exchanges too.
/// </summary>
public static class ComparisonCheckpoint
{
    public static void Save(string path, LocalComparison run, ComparisonOptions options, string codecSpec) =>
        CheckpointFile.Write(path, w =>
        {
            WriteIdentity(w, options, codecSpec);
            w.Write(run.Step);
            w.Write(run.BytesSentPerReplica);
            w.Write(run.ElapsedSeconds);
            w.Write(run.Curve.Count);
            foreach (var p in run.Curve) { w.Write(p.Step); w.Write(p.Tokens); w.Write(p.ValidationLoss); w.Write(p.TrainLoss); w.Write(p.WallSeconds); }
            foreach (var r in run.Replicas) WriteReplica(w, r);
            TensorIo.WriteFlat(w, run.Anchor);
            foreach (var chain in run.CodecsByChain)
                FeedbackIo.Write(w, chain.SelectMany((codec, sender) => codec.Feedback.Select(e => ($"{sender}/{e.Key}", e.Value))).ToArray());
        });

    /// <summary>Loads into a freshly built run with the same options; any mismatch is a <see cref="CheckpointException"/>.</summary>
    public static void Load(string path, LocalComparison run, ComparisonOptions options, string codecSpec) =>
        CheckpointFile.Read(path, reader =>
        {
            CheckIdentity(reader, options, codecSpec, path);
            long step = reader.ReadInt64();
            long bytes = reader.ReadInt64();
            double elapsed = reader.ReadDouble();
            int points = reader.ReadInt32();
            if (points < 0 || points > 10_000_000) throw new CheckpointException($"checkpoint {path} claims {points} loss points");
            var curve = new List<LossPoint>(points);
            for (int i = 0; i < points; i++)
                curve.Add(new LossPoint(reader.ReadInt64(), reader.ReadInt64(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble()));
            foreach (var r in run.Replicas) ReadReplica(reader, r);
            TensorIo.ReadFlatInto(reader, run.Anchor, "anchor");
            // Checkpoints written before residuals were kept end here; those resume with empty residuals (exact for fp32).
            foreach (var chain in run.CodecsByChain.TakeWhile(_ => reader.BaseStream.Position < reader.BaseStream.Length))
                FeedbackIo.ReadInto(reader, key => FeedbackOf(chain, key, run.Replicas.Count, path), run.Replicas.Count * StreamsPerReplicaMax,
                    run.Replicas[0].Trainer.Flat.Names.Count, run.Anchor.numel(), path);
            run.RestoreProgress(step, bytes, elapsed, curve);
            return true;
        });

    /// <summary>
    /// The model hash and one replica's weights from a <c>train</c> checkpoint, read without building the run (export and
    /// generate load a trained model this way). The weights are in <see cref="Training.FlatParameters"/> order.
    /// </summary>
    public static (string ModelHash, string Algorithm, int Replicas, float[] Weights) ReadReplicaWeights(string path, int replica, long valuesMax) =>
        CheckpointFile.Read(path, r =>
        {
            var (hash, algorithm, replicas) = (r.ReadString(), r.ReadString(), r.ReadInt32());
            if (!Enum.GetValues<Algorithm>().Any(a => a.Name() == algorithm))
                throw new CheckpointException($"{path} is not a train checkpoint (algorithm field '{algorithm}')");
            if (replica < 0 || replica >= replicas) throw new CheckpointException($"checkpoint {path} holds {replicas} replicas; replica {replica} does not exist");
            r.ReadInt32(); r.ReadString(); r.ReadInt64();     // inner steps per round, codec chain, seed
            r.ReadInt64(); r.ReadInt64(); r.ReadDouble();     // step, bytes, elapsed
            int points = r.ReadInt32();
            if (points < 0 || points > 10_000_000) throw new CheckpointException($"checkpoint {path} claims {points} loss points");
            for (int i = 0; i < points; i++) { r.ReadInt64(); r.ReadInt64(); r.ReadDouble(); r.ReadDouble(); r.ReadDouble(); }
            float[] weights = [];
            for (int i = 0; i <= replica; i++) weights = ReplicaStateIo.ReadWeights(r, valuesMax);
            return (hash, algorithm, replicas, weights);
        });

    // The comparison's codec streams per replica: "grad", "delta", "fast", "slow", "anchored" (a margin on top), each
    // with one residual per parameter tensor (the daemon's per-tensor blobs).
    private const int StreamsPerReplicaMax = 16;

    private static ErrorFeedbackState FeedbackOf(IReadOnlyList<IUpdateCodec> chain, string key, int replicas, string path)
    {
        int slash = key.IndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(0, slash), out int sender) || sender < 0 || sender >= replicas)
            throw new CheckpointException($"checkpoint {path} has error feedback for '{key}', not a stream of one of {replicas} replicas");
        return chain[sender].FeedbackOf(key[(slash + 1)..]);
    }

    // The init joins the model hash only when it is not the default, so checkpoints written before --init existed resume.
    private static string ModelIdentity(ComparisonOptions o) =>
        o.Init == Model.WeightInit.Gpt2 ? o.Model.Hash() : $"{o.Model.Hash()} with --init {o.Init}";

    private static void WriteIdentity(BinaryWriter w, ComparisonOptions o, string codec)
    {
        w.Write(ModelIdentity(o));
        w.Write(o.Algorithm.Name());
        w.Write(o.Replicas);
        w.Write(o.InnerStepsPerRound);
        w.Write(codec);
        w.Write(o.Seed);
    }

    private static void CheckIdentity(BinaryReader r, ComparisonOptions o, string codec, string path)
    {
        var (hash, algorithm, replicas, h, chain, seed) = (r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadInt64());
        void Same<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
                throw new CheckpointException($"checkpoint {path} was written with {what} {saved}, this run uses {now}");
        }
        Same("model config", hash, ModelIdentity(o));
        Same("algorithm", algorithm, o.Algorithm.Name());
        Same("replicas", replicas, o.Replicas);
        Same("inner steps per round", h, o.InnerStepsPerRound);
        Same("compression", chain, codec);
        Same("seed", seed, o.Seed);
    }

    private static void WriteReplica(BinaryWriter w, LocalReplica r) =>
        ReplicaStateIo.Write(w, r.Trainer, r.Slow, r.OuterMomentum, r.OuterRound, r.Data);

    private static void ReadReplica(BinaryReader reader, LocalReplica r)
    {
        long round = ReplicaStateIo.Read(reader, r.Trainer, r.Slow, r.OuterMomentum, r.Data);
        if (r.Slow is not null) r.OuterRound = round;
    }
}
