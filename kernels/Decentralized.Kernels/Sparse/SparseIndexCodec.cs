using System.Numerics;
using System.Runtime.CompilerServices;
using Decentralized.Kernels.Entropy;

namespace Decentralized.Kernels;

/// <summary>Compact encodings of the sorted positions top-k kept in a chunk of n elements; the
/// encoder picks the smaller (ties go to delta-varint):
/// <code>
/// DeltaVarint: LEB128(i0), LEB128(i1 - i0 - 1), LEB128(i2 - i1 - 1), ...   (gaps, 1 byte when &lt; 128)
/// Bitmap:      ceil(n / 8) bytes, bit (i % 8) of byte (i / 8) set when i is kept; padding bits 0
/// </code>
/// Delta-varint wins below about 1/8 density, the bitmap above.</summary>
public static class SparseIndexCodec
{
    /// <summary>Index encoding tag on the wire.</summary>
    public const byte DeltaVarint = 0;

    /// <summary>Index encoding tag on the wire.</summary>
    public const byte Bitmap = 1;

    /// <summary>Bytes of a bitmap over <paramref name="n"/> elements.</summary>
    public static int BitmapLength(int n) => (int)(((long)n + 7) / 8);

    /// <summary>Bytes of the delta-varint encoding of <paramref name="indices"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int VarintLength(ReadOnlySpan<int> indices)
    {
        int bytes = 0;
        int previous = -1;
        foreach (int index in indices)
        {
            bytes += Leb128.Length((uint)(index - previous - 1));
            previous = index;
        }

        return bytes;
    }

    /// <summary>Picks the smaller encoding and its length.</summary>
    public static (byte Mode, int Length) Choose(ReadOnlySpan<int> indices, int n)
    {
        int varint = VarintLength(indices);
        int bitmap = BitmapLength(n);
        return varint <= bitmap ? (DeltaVarint, varint) : (Bitmap, bitmap);
    }

    /// <summary>Writes <paramref name="indices"/> (strictly increasing, below n) in <paramref name="mode"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Write(byte mode, ReadOnlySpan<int> indices, int n, Span<byte> destination)
    {
        if (mode == Bitmap)
        {
            Span<byte> map = destination[..BitmapLength(n)];
            map.Clear();
            foreach (int index in indices)
            {
                map[index >> 3] |= (byte)(1 << (index & 7));
            }

            return;
        }

        int at = 0;
        int previous = -1;
        foreach (int index in indices)
        {
            at += Leb128.Write(destination[at..], (uint)(index - previous - 1));
            previous = index;
        }
    }

    /// <summary>Reads exactly <paramref name="indices"/>.Length positions below <paramref name="n"/>
    /// from all of <paramref name="source"/>.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> for an unknown mode, a
    /// count or length mismatch, an index out of range, overlong varints or set padding bits.</exception>
    public static void Read(byte mode, ReadOnlySpan<byte> source, int n, Span<int> indices)
    {
        switch (mode)
        {
            case Bitmap:
                ReadBitmap(source, n, indices);
                break;
            case DeltaVarint:
                ReadVarints(source, n, indices);
                break;
            default:
                throw Malformed($"unknown sparse index encoding {mode}");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReadBitmap(ReadOnlySpan<byte> source, int n, Span<int> indices)
    {
        if (source.Length != BitmapLength(n))
        {
            throw Malformed($"bitmap for {n} elements must be {BitmapLength(n)} bytes, not {source.Length}");
        }

        if (n % 8 != 0 && (source[^1] >> (n % 8)) != 0)
        {
            throw Malformed("bitmap has padding bits set");
        }

        int count = 0;
        for (int at = 0; at < source.Length; at++)
        {
            uint bits = source[at];
            if (count + BitOperations.PopCount(bits) > indices.Length)
            {
                throw Malformed($"bitmap marks more than the {indices.Length} positions the chunk declares");
            }

            while (bits != 0)
            {
                indices[count++] = at * 8 + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
            }
        }

        if (count != indices.Length)
        {
            throw Malformed($"bitmap marks {count} positions but the chunk declares {indices.Length}");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReadVarints(ReadOnlySpan<byte> source, int n, Span<int> indices)
    {
        int at = 0;
        long previous = -1;
        for (int k = 0; k < indices.Length; k++)
        {
            uint gap = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (at >= source.Length || shift > 28)
                {
                    throw Malformed("sparse index varint is truncated or longer than 5 bytes");
                }

                byte b = source[at++];
                if (shift == 28 && b > 0x0F)
                {
                    throw Malformed("sparse index varint overflows 32 bits");
                }

                gap |= (uint)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    break;
                }
            }

            long index = previous + 1 + gap;
            if (index >= n)
            {
                throw Malformed($"sparse index {index} is outside the chunk's {n} elements");
            }

            indices[k] = (int)index;
            previous = index;
        }

        if (at != source.Length)
        {
            throw Malformed($"{source.Length - at} bytes follow the last sparse index");
        }
    }

    private static CodecException Malformed(string why) => new(CodecErrorCode.Malformed, why);
}
