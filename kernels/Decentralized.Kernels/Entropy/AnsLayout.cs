using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Decentralized.Kernels.Entropy;

/// <summary>How the encoder splits a raw chunk for <see cref="AnsChunkCodec"/>, from the chain's
/// layout (<see cref="WireFormat"/> and the value kernels): top-k prefix and indices as one byte lane,
/// then the value codec's payload: block scales in byte planes of their width, 4-bit codes as nibbles,
/// int8 codes as bytes, float values in byte planes. Only the encoder uses it; a decoder reads the
/// split from the stored bytes.</summary>
internal static class AnsLayout
{
    /// <summary>Most segments <see cref="Split"/> returns.</summary>
    public const int MaxSegments = 3;

    /// <summary>Fills <paramref name="segments"/> for a raw chunk of <paramref name="count"/> elements;
    /// returns how many were used (none for an empty chunk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Split(CodecChain chain, ReadOnlySpan<byte> raw, int count, Span<AnsSegment> segments)
    {
        int used = 0;
        int offset = 0;
        int values = count;
        if (chain.TopK is not null)
        {
            values = (int)BinaryPrimitives.ReadUInt32LittleEndian(raw);
            offset = WireFormat.SparsePrefixBytes + (int)BinaryPrimitives.ReadUInt32LittleEndian(raw[5..]);
            segments[used++] = new AnsSegment(0, offset, 1, false);
        }

        ValueCodecOptions value = chain.Value;
        int payload = raw.Length - offset;
        switch (value.Kind)
        {
            case ValueCodecKind.Int8 or ValueCodecKind.Int4:
                int scales = BlockScale.BlockCount(values, value.BlockSize) * value.ScaleBytes;
                Add(segments, ref used, new AnsSegment(offset, scales, value.ScaleBytes, false));
                Add(segments, ref used, new AnsSegment(offset + scales, payload - scales, 1, value.Kind == ValueCodecKind.Int4));
                break;
            case ValueCodecKind.Fp32:
                Add(segments, ref used, new AnsSegment(offset, payload, 4, false));
                break;
            default:
                Add(segments, ref used, new AnsSegment(offset, payload, 2, false));
                break;
        }

        Debug.Assert(segments[..used].ToArray().Sum(s => s.Length) == raw.Length);
        return used;
    }

    private static void Add(Span<AnsSegment> segments, ref int used, AnsSegment segment)
    {
        if (segment.Length > 0)
        {
            segments[used++] = segment;
        }
    }
}
