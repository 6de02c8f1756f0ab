using System.Runtime.InteropServices;
using Decentralized.Kernels;

namespace Decentralized.Node.Checkpoints;

/// <summary>
/// Error-feedback residuals in a checkpoint: what each compressed stream still owes its receivers. Without them a
/// run resumed with a <c>+ef</c> chain would drop one round's worth of quantization error and drift from the run it
/// continues. Streams are written by key, in order, each as its residuals by tensor name.
/// </summary>
public static class FeedbackIo
{
    public static void Write(BinaryWriter w, IReadOnlyCollection<(string Key, ErrorFeedbackState State)> streams)
    {
        w.Write(streams.Count);
        foreach (var (key, state) in streams.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            w.Write(key);
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

    /// <summary>
    /// Reads what <see cref="Write"/> wrote into the states <paramref name="stateOf"/> hands out (it throws a
    /// <see cref="CheckpointException"/> for a key this run cannot have), refusing counts and lengths past the bounds.
    /// </summary>
    public static void ReadInto(BinaryReader r, Func<string, ErrorFeedbackState> stateOf, int streamsMax, int namesMax, long lengthMax, string path)
    {
        int streams = r.ReadInt32();
        if (streams < 0 || streams > streamsMax) throw new CheckpointException($"checkpoint {path} claims {streams} error-feedback streams (at most {streamsMax})");
        for (int s = 0; s < streams; s++)
        {
            string key = r.ReadString();
            var state = stateOf(key);
            int names = r.ReadInt32();
            if (names < 0 || names > namesMax) throw new CheckpointException($"checkpoint {path} claims {names} residuals for stream '{key}'");
            for (int n = 0; n < names; n++)
            {
                string name = r.ReadString();
                int length = r.ReadInt32();
                if (length < 0 || length > lengthMax) throw new CheckpointException($"checkpoint {path} has a residual of {length} values; the model has {lengthMax}");
                var values = new float[length];
                r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
                try { state.Restore(name, values); }
                catch (ArgumentException ex) { throw new CheckpointException($"checkpoint {path}: {ex.Message}"); }
            }
        }
    }
}
