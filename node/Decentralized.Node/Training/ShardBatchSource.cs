using Decentralized.Node.Data;

namespace Decentralized.Node.Training;

/// <summary>A replica's shard of the corpus as the trainer's batch stream.</summary>
public sealed class ShardBatchSource(BatchSampler sampler) : IBatchSource
{
    public void Next(long[] buffer) => sampler.NextBatch(buffer);

    public long[] SaveState()
    {
        var s = sampler.GetState();
        return new[] { s.Epoch, s.Position, unchecked((long)s.Fingerprint) };
    }

    public void RestoreState(long[] state)
    {
        if (state.Length != 3) throw new ArgumentException("data position must hold epoch, position and fingerprint");
        sampler.Restore(new SamplerState(state[0], state[1], unchecked((ulong)state[2])));
    }
}
