using System.Buffers.Binary;
using System.IO.Hashing;

namespace Decentralized.Kernels.Tests;

/// <summary>Builds blobs with chosen raw chunk bytes but valid framing and checksums, so tests and
/// the fuzzer can reach the decoder's checks behind the checksums.</summary>
internal static class BlobForge
{
    public static byte[] Build(string spec, int chunkElements, IReadOnlyList<(string Name, int[] Shape, byte[][] RawChunks)> tensors,
        bool lz4Flagged = false)
    {
        CodecChain chain = CodecChain.Parse(spec);
        var entries = tensors.Select(t => (System.Text.Encoding.UTF8.GetBytes(t.Name), t.Shape)).ToList();
        byte[] header = HeaderCodec.Build(chain, chunkElements, entries, out int headerLength, out ulong headerChecksum);
        var output = new MemoryStream();
        output.Write(header, 0, headerLength);
        var trailer = new XxHash3();
        PseudoGradientEncoder.AppendChecksum(trailer, headerChecksum);
        int maxRaw = tensors.SelectMany(t => t.RawChunks).Select(c => c.Length).DefaultIfEmpty(0).Max();
        // Only the framer's lossless stage matters here: LZ4 (kept only where it shrinks) or none.
        using var framer = new ChunkFramer(CodecChain.Parse(lz4Flagged ? "fp32+lz4" : "fp32"), Math.Max(maxRaw, 1));
        for (int t = 0; t < tensors.Count; t++)
        {
            for (int c = 0; c < tensors[t].RawChunks.Length; c++)
            {
                byte[] raw = tensors[t].RawChunks[c];
                raw.CopyTo(framer.RawArea);
                output.Write(framer.Frame(t, c, raw.Length, 0, out ulong checksum));
                PseudoGradientEncoder.AppendChecksum(trailer, checksum);
            }
        }

        Span<byte> end = stackalloc byte[WireFormat.TrailerBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(end, WireFormat.EndMagic);
        BinaryPrimitives.WriteUInt64LittleEndian(end[4..], trailer.GetCurrentHashAsUInt64());
        output.Write(end);
        return output.ToArray();
    }

    /// <summary>Like <see cref="Build"/> but with chosen stored bytes, raw length and flags per chunk
    /// (for example garbage LZ4 blocks), checksummed as a real encoder would.</summary>
    public static byte[] BuildStored(string spec, int chunkElements, string name, int[] shape,
        IReadOnlyList<(int RawLength, byte Flags, byte[] Stored)> chunks)
    {
        CodecChain chain = CodecChain.Parse(spec);
        var entries = new List<(byte[], int[])> { (System.Text.Encoding.UTF8.GetBytes(name), shape) };
        byte[] header = HeaderCodec.Build(chain, chunkElements, entries, out int headerLength, out ulong headerChecksum);
        var output = new MemoryStream();
        output.Write(header, 0, headerLength);
        var trailer = new XxHash3();
        PseudoGradientEncoder.AppendChecksum(trailer, headerChecksum);
        Span<byte> chunkHeader = stackalloc byte[WireFormat.ChunkHeaderBytes];
        for (int c = 0; c < chunks.Count; c++)
        {
            (int rawLength, byte flags, byte[] stored) = chunks[c];
            ulong checksum = XxHash3.HashToUInt64(stored, WireFormat.ChunkSeed(0, c, rawLength, stored.Length, flags));
            BinaryPrimitives.WriteUInt32LittleEndian(chunkHeader, (uint)rawLength);
            BinaryPrimitives.WriteUInt32LittleEndian(chunkHeader[4..], (uint)stored.Length);
            chunkHeader[8] = flags;
            BinaryPrimitives.WriteUInt64LittleEndian(chunkHeader[9..], checksum);
            output.Write(chunkHeader);
            output.Write(stored);
            PseudoGradientEncoder.AppendChecksum(trailer, checksum);
        }

        Span<byte> end = stackalloc byte[WireFormat.TrailerBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(end, WireFormat.EndMagic);
        BinaryPrimitives.WriteUInt64LittleEndian(end[4..], trailer.GetCurrentHashAsUInt64());
        output.Write(end);
        return output.ToArray();
    }

    /// <summary>Rewrites the header checksum after a test edited header bytes [0, headerLength − 8).</summary>
    public static void FixHeaderChecksum(byte[] blob, int headerLength)
    {
        ulong checksum = XxHash3.HashToUInt64(blob.AsSpan(0, headerLength - 8));
        BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(headerLength - 8), checksum);
    }
}
