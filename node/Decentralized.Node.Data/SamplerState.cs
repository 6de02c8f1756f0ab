namespace Decentralized.Node.Data;

/// <summary>
/// Everything needed to resume a <see cref="BatchSampler"/> exactly, as plain numbers for a
/// checkpoint: the epoch (which fixes that epoch's window order and offset), the position within
/// it, and a fingerprint of the shard and batch shape the state belongs to.
/// </summary>
/// <param name="Epoch">Epoch number, from 0.</param>
/// <param name="Position">Windows already served in this epoch.</param>
/// <param name="Fingerprint">Identity of (dataset, shard, seed, batch size, sequence length).</param>
public readonly record struct SamplerState(long Epoch, long Position, ulong Fingerprint);
