using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// The full state of an in-process run: per replica the model, AdamW moments, outer φ and momentum,
/// round and data position; plus the loop position and byte counters. Resuming from it continues exactly.
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
            run.RestoreProgress(step, bytes, elapsed, curve);
            return true;
        });

    private static void WriteIdentity(BinaryWriter w, ComparisonOptions o, string codec)
    {
        w.Write(o.Model.Hash());
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
        Same("model config", hash, o.Model.Hash());
        Same("algorithm", algorithm, o.Algorithm.Name());
        Same("replicas", replicas, o.Replicas);
        Same("inner steps per round", h, o.InnerStepsPerRound);
        Same("compression", chain, codec);
        Same("seed", seed, o.Seed);
    }

    private static void WriteReplica(BinaryWriter w, LocalReplica r)
    {
        w.Write(r.Trainer.Step);
        using (var weights = r.Trainer.Flat.Snapshot()) TensorIo.WriteFlat(w, weights);
        using (var buffer = new MemoryStream())
        {
            using (var bw = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) r.Trainer.SaveOptimizerState(bw);
            w.Write(buffer.Length);
            buffer.Position = 0;
            buffer.CopyTo(w.BaseStream);
        }
        w.Write(r.Slow is not null);
        if (r.Slow is not null)
        {
            TensorIo.WriteFlat(w, r.Slow);
            TensorIo.WriteFlat(w, r.OuterMomentum!);
            w.Write(r.OuterRound);
        }
        var data = r.Data.SaveState();
        w.Write(data.Length);
        foreach (var v in data) w.Write(v);
    }

    private static void ReadReplica(BinaryReader reader, LocalReplica r)
    {
        r.Trainer.Step = reader.ReadInt64();
        using (var weights = r.Trainer.Flat.Snapshot())
        {
            TensorIo.ReadFlatInto(reader, weights, "weights");
            r.Trainer.Flat.Assign(weights);
        }
        long optimizerBytes = reader.ReadInt64();
        if (optimizerBytes < 0 || optimizerBytes > CheckpointFile.MaxPayloadBytes) throw new CheckpointException("checkpoint optimizer state has an absurd size");
        var optimizer = new byte[optimizerBytes];
        reader.BaseStream.ReadExactly(optimizer);
        using (var br = new BinaryReader(new MemoryStream(optimizer))) r.Trainer.LoadOptimizerState(br);
        bool hasOuter = reader.ReadBoolean();
        if (hasOuter != (r.Slow is not null)) throw new CheckpointException("checkpoint outer state does not match the algorithm");
        if (hasOuter)
        {
            TensorIo.ReadFlatInto(reader, r.Slow!, "outer weights");
            TensorIo.ReadFlatInto(reader, r.OuterMomentum!, "outer momentum");
            r.OuterRound = reader.ReadInt64();
        }
        int n = reader.ReadInt32();
        if (n is < 0 or > 64) throw new CheckpointException("checkpoint data position is malformed");
        var state = new long[n];
        for (int i = 0; i < n; i++) state[i] = reader.ReadInt64();
        r.Data.RestoreState(state);
    }
}
