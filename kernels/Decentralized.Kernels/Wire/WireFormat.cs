using System.Runtime.CompilerServices;

namespace Decentralized.Kernels;

/// <summary>The self-describing blob for a set of compressed tensors (format version 1). All
/// integers little-endian; checksums are XXH3-64. The blob is written front to back with no seeking,
/// one bounded chunk at a time, and read back the same way.
/// <code>
/// header
///   +--------+----+-----+------+-----------+--------------+-------------+
///   | "DPGC" | v1 | 0x00| L u8 | chain (L) | chunkElem u32| tensors u32 |
///   +--------+----+-----+------+-----------+--------------+-------------+
///   per tensor:
///   +-------------+-----------+----------+---------+------------------+--------------+
///   | nameLen u16 | name UTF-8| dtype u8 | rank u8 | dims u32 x rank  | elements u64 |
///   +-------------+-----------+----------+---------+------------------+--------------+
///   +---------------------------------------+
///   | headerChecksum u64 = XXH3(header)     |
///   +---------------------------------------+
/// chunks: for each tensor in header order, ceil(elements / chunkElem) chunks of chunkElem
/// elements (the last one shorter)
///   +---------+------------+----------+-------------+------------------+
///   | raw u32 | stored u32 | flags u8 | checksum u64| stored bytes     |
///   +---------+------------+----------+-------------+------------------+
///   flags bit 0: stored bytes are an LZ4 block of the raw bytes (only when that is smaller)
///   flags bit 1: stored bytes are the ans stage's entropy coding of the raw bytes (only when
///                smaller; layout in Entropy/AnsChunkCodec.cs); at most the chain's own stage's bit
///   checksum = XXH3(stored bytes, seed = mix(tensor, chunk, raw, stored, flags))
///   raw bytes, dense:  value codec payload of the chunk's elements
///   raw bytes, top-k:  +-----------+---------+--------------+---------+----------------------+
///                      | count u32 | mode u8 | indexLen u32 | indices | value codec payload  |
///                      +-----------+---------+--------------+---------+----------------------+
/// trailer
///   +--------+-------------------------------------------------------------+
///   | "DPGE" | XXH3 over headerChecksum, then every chunk checksum (u64s)  |
///   +--------+-------------------------------------------------------------+
/// </code>
/// dtype 0 is float32, the only one defined: it is what the tensor is decoded to, whatever the
/// chain sends. A decoder checks every length against <see cref="DecoderLimits"/> and the format
/// bounds below before it reads or allocates that much.</summary>
public static class WireFormat
{
    /// <summary>"DPGC" read as a little-endian u32.</summary>
    public const uint Magic = 0x43475044;

    /// <summary>"DPGE" read as a little-endian u32.</summary>
    public const uint EndMagic = 0x45475044;

    /// <summary>The format version this code writes and reads.</summary>
    public const byte Version = 1;

    /// <summary>dtype tag of float32 tensors.</summary>
    public const byte DtypeFloat32 = 0;

    /// <summary>Largest chunk, in elements, the format allows (16 MiB of fp32).</summary>
    public const int MaxChunkElements = 1 << 22;

    /// <summary>Longest tensor name the format allows, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 4096;

    /// <summary>Most dimensions of a tensor.</summary>
    public const int MaxRank = 8;

    /// <summary>Bytes before the chain string in the header.</summary>
    internal const int PrefixBytes = 7;

    /// <summary>Bytes of a chunk header.</summary>
    public const int ChunkHeaderBytes = 17;

    /// <summary>Bytes of the trailer.</summary>
    public const int TrailerBytes = 12;

    /// <summary>Bytes of the fixed part of a top-k chunk before its indices.</summary>
    internal const int SparsePrefixBytes = 9;

    /// <summary>Chunk flag: stored bytes are LZ4-compressed.</summary>
    internal const byte FlagLz4 = 1;

    /// <summary>Chunk flag: stored bytes are the <c>ans</c> stage's entropy coding of the raw bytes.</summary>
    internal const byte FlagAns = 2;

    /// <summary>Seed of a chunk's checksum: binds the checksum to the chunk's position and header
    /// fields, so a reordered, duplicated or re-labelled chunk fails verification.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long ChunkSeed(int tensor, long chunk, int raw, int stored, byte flags)
    {
        ulong x = ((ulong)(uint)tensor << 32) ^ (ulong)chunk;
        x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15UL;
        x ^= ((ulong)(uint)raw << 32) | (uint)stored;
        x = (x ^ (x >> 29)) * 0xBF58476D1CE4E5B9UL;
        x ^= flags;
        return (long)(x ^ (x >> 32));
    }
}
