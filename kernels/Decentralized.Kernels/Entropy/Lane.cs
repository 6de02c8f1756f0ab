using System.Runtime.CompilerServices;

namespace Decentralized.Kernels.Entropy;

/// <summary>The symbols of one lane of a raw chunk: <see cref="Count"/> bytes at
/// <see cref="Offset"/>, <see cref="Offset"/> + <see cref="Stride"/>, ... (a byte plane), or, for a
/// nibble lane, the low then the high nibble of each of the <see cref="Count"/> / 2 bytes from
/// <see cref="Offset"/> (4-bit codes).</summary>
internal readonly record struct Lane(int Offset, int Stride, int Count, bool Nibbles)
{
    /// <summary>Symbols a lane can hold: 16 for nibbles, 256 for bytes.</summary>
    public int Alphabet => Nibbles ? 16 : RansTable.MaxAlphabet;

    /// <summary>Bytes of the raw chunk the lane covers (what storing it unencoded costs).</summary>
    public int RawBytes => Nibbles ? Count / 2 : Count;

    /// <summary>Symbol <paramref name="i"/> of the lane.</summary>
    public int SymbolAt(ReadOnlySpan<byte> raw, int i) => Nibbles
        ? (raw[Offset + (i >> 1)] >> ((i & 1) << 2)) & 0xF
        : raw[Offset + i * Stride];

    /// <summary>Sets symbol <paramref name="i"/> of the lane (a nibble lane keeps the other nibble).</summary>
    public void SetSymbolAt(Span<byte> raw, int i, int symbol)
    {
        if (Nibbles)
        {
            int shift = (i & 1) << 2;
            ref byte target = ref raw[Offset + (i >> 1)];
            target = (byte)((target & ~(0xF << shift)) | (symbol << shift));
        }
        else
        {
            raw[Offset + i * Stride] = (byte)symbol;
        }
    }

    /// <summary>Copies the lane's raw bytes to <paramref name="destination"/> (<see cref="RawBytes"/> long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Gather(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        if (Nibbles || Stride == 1)
        {
            raw.Slice(Offset, RawBytes).CopyTo(destination);
            return;
        }

        for (int i = 0; i < Count; i++)
        {
            destination[i] = raw[Offset + i * Stride];
        }
    }

    /// <summary>Inverse of <see cref="Gather"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Scatter(ReadOnlySpan<byte> source, Span<byte> raw)
    {
        if (Nibbles || Stride == 1)
        {
            source[..RawBytes].CopyTo(raw.Slice(Offset, RawBytes));
            return;
        }

        for (int i = 0; i < Count; i++)
        {
            raw[Offset + i * Stride] = source[i];
        }
    }

    /// <summary>Sets every symbol of the lane to <paramref name="symbol"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(Span<byte> raw, int symbol)
    {
        if (Nibbles || Stride == 1)
        {
            raw.Slice(Offset, RawBytes).Fill(Nibbles ? (byte)(symbol | (symbol << 4)) : (byte)symbol);
            return;
        }

        for (int i = 0; i < Count; i++)
        {
            raw[Offset + i * Stride] = (byte)symbol;
        }
    }
}
