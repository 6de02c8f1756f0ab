using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Decentralized.Node.Swarm;

/// <summary>
/// A donor's training state frozen at one round, as joiners download it: φ then the outer momentum as float32 bytes,
/// cut into fixed-size chunks with a SHA-256 each. Frozen so every chunk a joiner fetches, early or late in a long
/// transfer, belongs to the same round even while the donor trains on.
/// </summary>
internal sealed class StateSnapshot
{
    private readonly byte[] _bytes;
    private readonly byte[][] _hashes;

    public StateSnapshot(long round, float[] slow, float[] momentum, int chunkBytes)
    {
        Round = round;
        Values = slow.Length + momentum.Length;
        ChunkBytes = chunkBytes;
        _bytes = new byte[Values * sizeof(float)];
        MemoryMarshal.AsBytes(slow.AsSpan()).CopyTo(_bytes);
        MemoryMarshal.AsBytes(momentum.AsSpan()).CopyTo(_bytes.AsSpan(slow.Length * sizeof(float)));
        _hashes = new byte[ChunkCount(_bytes.LongLength, chunkBytes)][];
        for (int i = 0; i < _hashes.Length; i++) _hashes[i] = SHA256.HashData(Chunk(i).Span);
    }

    public long Round { get; }
    public long Values { get; }
    public int ChunkBytes { get; }
    public int Chunks => _hashes.Length;

    public ReadOnlyMemory<byte> Chunk(int index) => _bytes.AsMemory(ChunkOffset(index, ChunkBytes), ChunkLength(_bytes.LongLength, index, ChunkBytes));

    public StateManifest Manifest(string configHash) => new(Round, configHash, Values, ChunkBytes, _hashes, null);

    public static int ChunkCount(long totalBytes, int chunkBytes) => checked((int)((totalBytes + chunkBytes - 1) / chunkBytes));

    public static int ChunkOffset(int index, int chunkBytes) => checked(index * chunkBytes);

    public static int ChunkLength(long totalBytes, int index, int chunkBytes) => (int)Math.Min(chunkBytes, totalBytes - (long)index * chunkBytes);
}
