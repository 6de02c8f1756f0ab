using System.Runtime.InteropServices;
using Decentralized.Node.Training;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// A codec's error-feedback residuals in a checkpoint: what each sender's compressed stream still owes the receivers.
/// Without them a resumed run with a <c>+ef</c> chain would drop one round's worth of quantization error and drift
/// from the run it continues.
/// </summary>
public static class FeedbackIo
{
    private const int StreamsPerSenderMax = 16;

    public static void Write(BinaryWriter w, IVectorCodec codec)
    {
        w.Write(codec.Feedback.Count);
        foreach (var ((sender, stream), state) in codec.Feedback.OrderBy(e => e.Key.Sender).ThenBy(e => e.Key.Stream, StringComparer.Ordinal))
        {
            w.Write(sender);
            w.Write(stream);
            w.Write(state.Names.Count);
            foreach (var name in state.Names.Order(StringComparer.Ordinal))
            {
                var residual = state.GetResidual(name);
                w.Write(name);
                w.Write(residual.Length);
                w.Write(MemoryMarshal.AsBytes(residual));
            }
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote, refusing counts and lengths this run could not have produced.</summary>
    public static void ReadInto(BinaryReader r, IVectorCodec codec, int senders, long vectorLength, string path)
    {
        int entries = r.ReadInt32();
        if (entries < 0 || entries > senders * StreamsPerSenderMax) throw new CheckpointException($"checkpoint {path} claims {entries} error-feedback streams");
        for (int e = 0; e < entries; e++)
        {
            int sender = r.ReadInt32();
            string stream = r.ReadString();
            if (sender < 0 || sender >= senders) throw new CheckpointException($"checkpoint {path} has error feedback for replica {sender} of {senders}");
            var state = codec.FeedbackOf(sender, stream);
            int names = r.ReadInt32();
            if (names is < 0 or > StreamsPerSenderMax) throw new CheckpointException($"checkpoint {path} claims {names} residuals for stream '{stream}'");
            for (int n = 0; n < names; n++)
            {
                string name = r.ReadString();
                int length = r.ReadInt32();
                if (length < 0 || length > vectorLength) throw new CheckpointException($"checkpoint {path} has a residual of {length} values; the model has {vectorLength}");
                var values = new float[length];
                r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
                try { state.Restore(name, values); }
                catch (ArgumentException ex) { throw new CheckpointException($"checkpoint {path}: {ex.Message}"); }
            }
        }
    }
}
