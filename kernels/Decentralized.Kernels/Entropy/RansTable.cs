using System.Runtime.CompilerServices;

namespace Decentralized.Kernels.Entropy;

/// <summary>A static rANS model: each symbol's frequency out of <see cref="Total"/> = 2^12, and the
/// cumulative start of its slot range. One instance is refilled per lane (no allocation per chunk).
/// Normalisation, the serialised form and its validation live here, shared by the fast coder and its
/// reference, so both write identical bytes.
/// <code>
/// +--------------------------------------+-------------------------------------------------+
/// | presence bitmap: alphabet / 8 bytes  | LEB128(f[s] - 1) for each present s, ascending   |
/// | (bit s % 8 of byte s / 8: f[s] &gt; 0)  | f[s] in [1, 4096], at most 2 bytes each          |
/// +--------------------------------------+-------------------------------------------------+
/// </code>
/// The frequencies must sum to exactly 4096; a decoder refuses anything else, so a table never makes
/// it allocate or loop more than the alphabet's size.</summary>
internal sealed class RansTable
{
    /// <summary>log2 of <see cref="Total"/>: 12 bits keep the slot table at 4,096 entries (16 KiB, in L1
    /// and L2) and cost under 0.01 bit per symbol against the exact distribution of a 16-symbol code.</summary>
    public const int ProbabilityBits = 12;

    /// <summary>Sum of the frequencies.</summary>
    public const int Total = 1 << ProbabilityBits;

    /// <summary>Largest alphabet (byte symbols).</summary>
    public const int MaxAlphabet = 256;

    // Bits a symbol of frequency f costs, 12 − log2 f, for f in [0, 4096] (entry 0 unused).
    private static readonly float[] BitsOfFrequency = Enumerable.Range(0, Total + 1)
        .Select(f => f == 0 ? 0f : (float)(ProbabilityBits - Math.Log2(f))).ToArray();

    private readonly ushort[] _frequencies = new ushort[MaxAlphabet];
    private readonly ushort[] _starts = new ushort[MaxAlphabet];

    /// <summary>16 (nibbles) or 256 (bytes).</summary>
    public int Alphabet { get; private set; } = MaxAlphabet;

    /// <summary>Frequency of each symbol (0 when absent).</summary>
    public ReadOnlySpan<ushort> Frequencies => _frequencies.AsSpan(0, Alphabet);

    /// <summary>First slot of each symbol.</summary>
    public ReadOnlySpan<ushort> Starts => _starts.AsSpan(0, Alphabet);

    /// <summary>Scales <paramref name="counts"/> (at least one non-zero) to frequencies summing to
    /// <see cref="Total"/>: each present symbol gets round(c · 4096 / n), at least 1; the rounding
    /// surplus or deficit goes to the most frequent symbol (deficits, taken from the largest
    /// frequencies, never push one below 1). IEEE double arithmetic, so every machine computes the
    /// same table (the stream depends on it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Normalize(ReadOnlySpan<uint> counts)
    {
        Alphabet = counts.Length;
        long total = 0;
        foreach (uint count in counts)
        {
            total += count;
        }

        double scale = (double)Total / total;
        int sum = 0;
        int mostFrequent = 0;
        for (int s = 0; s < counts.Length; s++)
        {
            int f = counts[s] == 0 ? 0 : Math.Max(1, (int)(counts[s] * scale + 0.5));
            _frequencies[s] = (ushort)f;
            sum += f;
            if (counts[s] > counts[mostFrequent])
            {
                mostFrequent = s;
            }
        }

        int diff = Total - sum;
        if (diff > 0)
        {
            _frequencies[mostFrequent] += (ushort)diff;
        }

        while (diff < 0)
        {
            int largest = 0;
            for (int s = 1; s < counts.Length; s++)
            {
                if (_frequencies[s] > _frequencies[largest])
                {
                    largest = s;
                }
            }

            int take = Math.Min(-diff, _frequencies[largest] - 1);
            _frequencies[largest] -= (ushort)take;
            diff += take;
        }

        FillStarts();
    }

    /// <summary>Estimated bits of <paramref name="counts"/> coded with this table (the stream's 16
    /// bytes of final state and the table itself excluded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double CostBits(ReadOnlySpan<uint> counts)
    {
        double bits = 0;
        for (int s = 0; s < counts.Length; s++)
        {
            bits += counts[s] * (double)BitsOfFrequency[_frequencies[s]];
        }

        return bits;
    }

    /// <summary>Bytes <see cref="Write"/> produces.</summary>
    public int SerializedLength
    {
        get
        {
            int length = Alphabet / 8;
            foreach (ushort f in Frequencies)
            {
                length += f == 0 ? 0 : f <= 128 ? 1 : 2;
            }

            return length;
        }
    }

    /// <summary>Writes the table; returns the bytes written (<see cref="SerializedLength"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Write(Span<byte> destination)
    {
        int bitmap = Alphabet / 8;
        destination[..bitmap].Clear();
        int at = bitmap;
        for (int s = 0; s < Alphabet; s++)
        {
            int f = _frequencies[s];
            if (f == 0)
            {
                continue;
            }

            destination[s >> 3] |= (byte)(1 << (s & 7));
            at += Leb128.Write(destination[at..], (uint)(f - 1));
        }

        return at;
    }

    /// <summary>Reads and validates a table for <paramref name="alphabet"/> symbols; returns the bytes
    /// consumed.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> when the table is
    /// truncated, a frequency is out of range or they do not sum to <see cref="Total"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Read(ReadOnlySpan<byte> source, int alphabet)
    {
        Alphabet = alphabet;
        int bitmap = alphabet / 8;
        if (source.Length < bitmap)
        {
            throw AnsChunkCodec.Malformed("rANS frequency table is truncated");
        }

        int at = bitmap;
        int sum = 0;
        for (int s = 0; s < alphabet; s++)
        {
            int f = 0;
            if ((source[s >> 3] & (1 << (s & 7))) != 0)
            {
                f = (int)Leb128.Read(source, ref at, maxBytes: 2) + 1;
                if (f > Total)
                {
                    throw AnsChunkCodec.Malformed($"rANS frequency {f} of symbol {s} exceeds {Total}");
                }
            }

            _frequencies[s] = (ushort)f;
            sum += f;
        }

        if (sum != Total)
        {
            throw AnsChunkCodec.Malformed($"rANS frequencies sum to {sum}, not {Total}");
        }

        FillStarts();
        return at;
    }

    private void FillStarts()
    {
        int start = 0;
        for (int s = 0; s < Alphabet; s++)
        {
            _starts[s] = (ushort)start;
            start += _frequencies[s];
        }
    }
}
