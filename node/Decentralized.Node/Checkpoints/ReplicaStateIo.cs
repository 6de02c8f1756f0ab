using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// One replica's full training state inside a checkpoint: inner step, weights, AdamW moments, outer φ and
/// momentum with their round, and the data position. Shared by the in-process comparison and the daemon.
/// </summary>
public static class ReplicaStateIo
{
    public static void Write(BinaryWriter w, InnerTrainer trainer, Tensor? slow, Tensor? momentum, long round, IBatchSource data)
    {
        w.Write(trainer.Step);
        using (var weights = trainer.Flat.Snapshot()) TensorIo.WriteFlat(w, weights);
        using (var buffer = new MemoryStream())
        {
            using (var bw = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) trainer.SaveOptimizerState(bw);
            w.Write(buffer.Length);
            buffer.Position = 0;
            buffer.CopyTo(w.BaseStream);
        }
        w.Write(slow is not null);
        if (slow is not null)
        {
            TensorIo.WriteFlat(w, slow);
            TensorIo.WriteFlat(w, momentum!);
            w.Write(round);
        }
        var position = data.SaveState();
        w.Write(position.Length);
        foreach (var v in position) w.Write(v);
    }

    /// <summary>Restores what <see cref="Write"/> wrote into live objects; returns the outer round.</summary>
    public static long Read(BinaryReader reader, InnerTrainer trainer, Tensor? slow, Tensor? momentum, IBatchSource data)
    {
        trainer.Step = reader.ReadInt64();
        using (var weights = trainer.Flat.Snapshot())
        {
            TensorIo.ReadFlatInto(reader, weights, "weights");
            trainer.Flat.Assign(weights);
        }
        long optimizerBytes = reader.ReadInt64();
        if (optimizerBytes < 0 || optimizerBytes > CheckpointFile.MaxPayloadBytes) throw new CheckpointException("checkpoint optimizer state has an absurd size");
        var optimizer = new byte[optimizerBytes];
        reader.BaseStream.ReadExactly(optimizer);
        using (var br = new BinaryReader(new MemoryStream(optimizer))) trainer.LoadOptimizerState(br);
        bool hasOuter = reader.ReadBoolean();
        if (hasOuter != (slow is not null)) throw new CheckpointException("checkpoint outer state does not match the algorithm");
        long round = 0;
        if (hasOuter)
        {
            TensorIo.ReadFlatInto(reader, slow!, "outer weights");
            TensorIo.ReadFlatInto(reader, momentum!, "outer momentum");
            round = reader.ReadInt64();
        }
        int n = reader.ReadInt32();
        if (n is < 0 or > 64) throw new CheckpointException("checkpoint data position is malformed");
        var state = new long[n];
        for (int i = 0; i < n; i++) state[i] = reader.ReadInt64();
        data.RestoreState(state);
        return round;
    }

    /// <summary>
    /// Reads only the weights of what <see cref="Write"/> wrote, and skips the rest, without a live trainer (export reads a
    /// model out of a checkpoint this way). Refuses a vector longer than <paramref name="valuesMax"/>.
    /// </summary>
    public static float[] ReadWeights(BinaryReader reader, long valuesMax)
    {
        reader.ReadInt64();   // inner step
        long count = reader.ReadInt64();
        if (count < 0 || count > valuesMax || 4 * count > reader.BaseStream.Length - reader.BaseStream.Position)
            throw new CheckpointException($"checkpoint weights claim {count} values (at most {valuesMax}, and no more than the file holds)");
        var weights = new float[count];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan()));
        long optimizerBytes = reader.ReadInt64();
        if (optimizerBytes < 0 || optimizerBytes > CheckpointFile.MaxPayloadBytes) throw new CheckpointException("checkpoint optimizer state has an absurd size");
        Skip(reader, optimizerBytes);
        if (reader.ReadBoolean())
        {
            for (int i = 0; i < 2; i++)
            {
                long n = reader.ReadInt64();
                if (n != count) throw new CheckpointException($"checkpoint outer state has {n} values; the weights have {count}");
                Skip(reader, 4 * n);
            }
            reader.ReadInt64();   // outer round
        }
        int positions = reader.ReadInt32();
        if (positions is < 0 or > 64) throw new CheckpointException("checkpoint data position is malformed");
        Skip(reader, 8L * positions);
        return weights;
    }

    // The checkpoint streams do not seek (they are bounded for hashing), so skipping reads through a small buffer.
    private static void Skip(BinaryReader reader, long bytes)
    {
        var buffer = new byte[81920];
        while (bytes > 0)
        {
            int n = (int)Math.Min(buffer.Length, bytes);
            reader.BaseStream.ReadExactly(buffer, 0, n);
            bytes -= n;
        }
    }
}
