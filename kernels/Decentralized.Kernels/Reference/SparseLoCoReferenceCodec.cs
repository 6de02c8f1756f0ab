namespace Decentralized.Kernels.Reference;

/// <summary>
/// Obviously-correct twin of <see cref="SparseLoCoCodec"/> (same signatures, same bytes): each tile's positions sorted
/// by (|x| descending, position ascending) and the first k kept, the quantizer written out again, every bit pushed
/// one at a time into a list. Slow; tests only.
/// </summary>
public static class SparseLoCoReferenceCodec
{
    /// <summary>Same contract as <see cref="SparseLoCoCodec.Encode"/>.</summary>
    public static byte[] Encode(Span<float> accumulator, TileLayout layout, int k, SparseIndexCoding coding)
    {
        for (int i = 0; i < accumulator.Length; i++)
        {
            if (!float.IsFinite(accumulator[i])) throw new CodecException(CodecErrorCode.NonFiniteInput, $"accumulator element {i} is {accumulator[i]}");
        }

        var bytes = new List<byte> { (byte)'S', (byte)'L', SparseLoCoCodec.Version, (byte)coding, (byte)k, (byte)(k >> 8), 0, 0 };
        bytes.AddRange(BitConverter.GetBytes((uint)layout.Tensors.Count));
        foreach (var t in layout.Tensors)
        {
            int kept = t.KeptPerTile(k);
            var positions = new List<int>();
            var tensor = accumulator.Slice((int)t.Offset, t.Elements).ToArray();
            for (int tile = 0; tile < t.TileCount; tile++)
            {
                positions.AddRange(Enumerable.Range(0, t.TileSize)
                    .OrderByDescending(p => Math.Abs(tensor[t.FlatIndex(tile, p)])).ThenBy(p => p).Take(kept).Order());
            }

            var flat = positions.Select((p, j) => (int)t.Offset + t.FlatIndex(j / kept, p)).ToArray();
            var values = new float[flat.Length];
            for (int j = 0; j < flat.Length; j++) values[j] = accumulator[flat[j]];
            var (mu, lookup, codes) = Quantize(values);
            for (int j = 0; j < flat.Length; j++) accumulator[flat[j]] -= mu + lookup[codes[j]];
            bytes.AddRange(BitConverter.GetBytes((uint)t.Elements));
            bytes.AddRange(BitConverter.GetBytes(mu));
            foreach (float l in lookup) bytes.AddRange(BitConverter.GetBytes(l));
            var codeBits = codes.SelectMany(c => new[] { (c & 1) != 0, (c & 2) != 0 }).ToList();
            var positionBits = kept == t.TileSize ? [] : PositionBits(positions, t.TileSize, kept, coding);
            bytes.AddRange(BitConverter.GetBytes((uint)((positionBits.Count + 7) / 8)));
            bytes.AddRange(Pack(codeBits));
            bytes.AddRange(Pack(positionBits));
        }

        return bytes.ToArray();
    }

    /// <summary>Same contract as <see cref="SparseLoCoCodec.DecodeInto"/> for well-formed blobs (the fast decoder is the one that judges untrusted bytes).</summary>
    public static void DecodeInto(byte[] blob, TileLayout layout, Span<float> destination, Span<bool> sent)
    {
        destination.Clear();
        sent.Clear();
        int k = blob[4] | (blob[5] << 8);
        var coding = (SparseIndexCoding)blob[3];
        int at = SparseLoCoCodec.HeaderBytes;
        foreach (var t in layout.Tensors)
        {
            int kept = t.KeptPerTile(k), n = t.Selected(k);
            float mu = BitConverter.ToSingle(blob, at + 4);
            var lookup = Enumerable.Range(0, 4).Select(q => BitConverter.ToSingle(blob, at + 8 + 4 * q)).ToArray();
            int positionBytes = (int)BitConverter.ToUInt32(blob, at + 24);
            at += SparseLoCoCodec.TensorHeaderBytes;
            var codeBits = Bits(blob, at, (n + 3) / 4);
            at += (n + 3) / 4;
            var positionBits = Bits(blob, at, positionBytes);
            at += positionBytes;
            int cursor = 0, last = -1;
            for (int j = 0; j < n; j++)
            {
                int p;
                if (kept == t.TileSize) p = j % kept;
                else if (coding == SparseIndexCoding.Fixed12) p = Number(positionBits, ref cursor, 12);
                else
                {
                    int previous = j % kept == 0 ? -1 : last;
                    int b = SparseLoCoCodec.RiceParameter(t.TileSize, kept), quotient = 0;
                    while (positionBits[cursor++]) quotient++;
                    p = previous + 1 + (quotient << b) + Number(positionBits, ref cursor, b);
                }

                last = p;
                int flat = (int)t.Offset + t.FlatIndex(j / kept, p);
                int code = (codeBits[2 * j] ? 1 : 0) | (codeBits[2 * j + 1] ? 2 : 0);
                destination[flat] = mu + lookup[code];
                if (!sent.IsEmpty) sent[flat] = true;
            }
        }
    }

    /// <summary>The statistical 2-bit quantizer as ALGORITHMS.md states it, sums in double in value order.</summary>
    private static (float Mu, float[] Lookup, int[] Codes) Quantize(float[] values)
    {
        int n = values.Length;
        float mu = n == 0 ? 0f : (float)(values.Sum(v => (double)v) / n);
        double squares = values.Sum(v => (double)(v - mu) * (v - mu));
        float scale = n < 2 ? 0f : (float)(1.5 * Math.Sqrt(squares / (n - 1)));
        var codes = values.Select(v =>
        {
            float c = v - mu;
            return scale > 0 && float.IsFinite(c / scale) ? (int)Math.Clamp(MathF.Round(c / scale + 2f), 0f, 3f) : 2;
        }).ToArray();
        var lookup = Enumerable.Range(0, 4).Select(q =>
        {
            var bin = Enumerable.Range(0, n).Where(j => codes[j] == q).ToArray();
            double sum = 0;
            foreach (int j in bin) sum += values[j] - mu;
            return bin.Length == 0 ? 0f : (float)(sum / bin.Length);
        }).ToArray();
        return (mu, lookup, codes);
    }

    private static List<bool> PositionBits(List<int> positions, int tileSize, int kept, SparseIndexCoding coding)
    {
        var bits = new List<bool>();
        int b = SparseLoCoCodec.RiceParameter(tileSize, kept);
        for (int j = 0; j < positions.Count; j++)
        {
            if (coding == SparseIndexCoding.Fixed12)
            {
                for (int i = 0; i < 12; i++) bits.Add(((positions[j] >> i) & 1) != 0);
                continue;
            }

            int gap = positions[j] - (j % kept == 0 ? -1 : positions[j - 1]) - 1;
            for (int i = 0; i < gap >> b; i++) bits.Add(true);
            bits.Add(false);
            for (int i = 0; i < b; i++) bits.Add(((gap >> i) & 1) != 0);
        }

        return bits;
    }

    private static IEnumerable<byte> Pack(List<bool> bits) =>
        Enumerable.Range(0, (bits.Count + 7) / 8).Select(i => (byte)Enumerable.Range(0, 8).Sum(b => 8 * i + b < bits.Count && bits[8 * i + b] ? 1 << b : 0));

    private static List<bool> Bits(byte[] blob, int at, int count) =>
        Enumerable.Range(0, 8 * count).Select(i => ((blob[at + i / 8] >> (i % 8)) & 1) != 0).ToList();

    private static int Number(List<bool> bits, ref int cursor, int count)
    {
        int value = 0;
        for (int i = 0; i < count; i++) value |= bits[cursor++] ? 1 << i : 0;
        return value;
    }
}
