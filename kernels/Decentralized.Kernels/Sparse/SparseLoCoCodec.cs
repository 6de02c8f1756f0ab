using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Decentralized.Kernels;

/// <summary>
/// SparseLoCo's payload (arXiv 2508.15706; one-covenant/templar): per tile the k entries of largest |e|, their
/// values in the per-tensor 2-bit <see cref="StatisticalQuantizer"/>, their in-tile positions in 12 bits or Rice-coded
/// gaps. The encoder subtracts what it sends from the accumulator, so the residual keeps the quantization error too.
/// <code>
///   blob    := 'S' 'L' version=1 coding:u8  k:u16  reserved:u16=0  tensors:u32             (12 bytes, little-endian)
///   tensor  := elements:u32  μ:f32  lookup[4]:f32  positionBytes:u32                       (28 bytes)
///              codes: ⌈n/4⌉ bytes, value j in bits 2(j mod 4) of byte ⌊j/4⌋, padding 0
///              positions: positionBytes bytes, LSB-first bits, tiles in row-major order, each tile's kept
///                positions ascending; none for a tile kept whole. Fixed12: 12 bits each. Rice: gap g (the first
///                position, then position − previous − 1) as ⌊g/2^b⌋ one bits, a zero, then g mod 2^b in b bits,
///                b = ⌊log2(tile / kept)⌋. Zero padding to the byte; nothing after the last tensor.
/// </code>
/// n = tiles × kept per tile, both from the receiver's own <see cref="TileLayout"/> and the blob's k.
/// </summary>
public static class SparseLoCoCodec
{
    public const byte Version = 1;
    public const int HeaderBytes = 12;
    public const int TensorHeaderBytes = 28;
    private const ushort Magic = 'S' | ('L' << 8);

    /// <summary>
    /// Encodes the tile top-k of <paramref name="accumulator"/> (the flat vector of <paramref name="layout"/>) and
    /// subtracts the decoded values from it in place, so it is left holding the residual.
    /// </summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.NonFiniteInput"/> on a NaN or infinity (the accumulator is left untouched).</exception>
    public static byte[] Encode(Span<float> accumulator, TileLayout layout, int k, SparseIndexCoding coding)
    {
        CheckEncodeArguments(accumulator, layout, k, coding);
        // Select everywhere first: a non-finite entry found on the way leaves the accumulator untouched.
        var starts = new int[layout.Tensors.Count + 1];
        for (int i = 0; i < layout.Tensors.Count; i++) starts[i + 1] = checked(starts[i] + layout.Tensors[i].Selected(k));
        var positions = new int[starts[^1]];
        var scratch = new TileScratch();
        for (int i = 0; i < layout.Tensors.Count; i++)
        {
            var t = layout.Tensors[i];
            var tensor = accumulator.Slice(checked((int)t.Offset), t.Elements);
            int kept = t.KeptPerTile(k), perBand = t.TilesAcross * kept;
            if (kept == t.TileSize && FiniteGuard.FindFirstInvalid(tensor) is var bad && bad >= 0) throw NonFinite(t.Offset + bad, tensor[bad]);
            for (int band = 0; band * perBand < starts[i + 1] - starts[i]; band++)
                SelectBand(tensor, t, band, kept, scratch, positions.AsSpan(starts[i] + band * perBand, perBand));
        }

        var writer = new SparseBitWriter(HeaderBytes + layout.Tensors.Sum(t => TensorHeaderBytes + t.Selected(k) * 2));
        WriteHeader(writer.Append(HeaderBytes), k, coding, layout.Tensors.Count);
        int most = layout.Tensors.Count == 0 ? 0 : layout.Tensors.Max(t => t.Selected(k));
        var values = new float[most];
        var codes = new byte[most];
        Span<float> lookup = stackalloc float[4];
        for (int i = 0; i < layout.Tensors.Count; i++)
        {
            var t = layout.Tensors[i];
            var tensor = accumulator.Slice(checked((int)t.Offset), t.Elements);
            var mine = positions.AsSpan(starts[i], starts[i + 1] - starts[i]);
            int kept = t.KeptPerTile(k), n = mine.Length;
            for (int j = 0; j < n; j++) values[j] = tensor[t.FlatIndex(j / kept, mine[j])];
            float mu = StatisticalQuantizer.Quantize(values.AsSpan(0, n), codes, lookup);
            for (int j = 0; j < n; j++) tensor[t.FlatIndex(j / kept, mine[j])] -= mu + lookup[codes[j]];
            WriteTensor(writer, t, k, coding, mu, lookup, codes.AsSpan(0, n), mine);
        }

        return writer.ToArray();
    }

    private static CodecException NonFinite(long index, float value) =>
        new(CodecErrorCode.NonFiniteInput, $"accumulator element {index} is {value}");

    /// <summary>
    /// Decodes an untrusted blob for <paramref name="layout"/>: <paramref name="destination"/> gets the sent values and
    /// zero elsewhere; <paramref name="sent"/>, when not empty, is true exactly at the sent coordinates.
    /// </summary>
    /// <exception cref="CodecException">Any malformed, truncated, mis-shaped or non-finite blob; nothing is trusted.</exception>
    public static void DecodeInto(ReadOnlySpan<byte> blob, TileLayout layout, Span<float> destination, Span<bool> sent)
    {
        if (destination.Length != layout.Count || (!sent.IsEmpty && sent.Length != layout.Count))
            throw new ArgumentException("destination and sent must match the layout");
        var (k, coding) = ReadHeader(blob, layout.Tensors.Count);
        destination.Clear();
        sent.Clear();
        int at = HeaderBytes;
        int most = layout.Tensors.Count == 0 ? 0 : layout.Tensors.Max(t => t.Selected(k));
        var positions = new int[most];
        Span<float> decoded = stackalloc float[4];
        foreach (var t in layout.Tensors)
        {
            int n = t.Selected(k), kept = t.KeptPerTile(k);
            var head = Take(blob, ref at, TensorHeaderBytes);
            if (BinaryPrimitives.ReadUInt32LittleEndian(head) != (uint)t.Elements)
                throw new CodecException(CodecErrorCode.TargetMismatch, $"tensor of {BinaryPrimitives.ReadUInt32LittleEndian(head)} elements, ours has {t.Elements}");
            ReadLookup(head, decoded);
            uint positionBytes = BinaryPrimitives.ReadUInt32LittleEndian(head[24..]);
            var codes = Take(blob, ref at, (n + 3) / 4);
            CheckPadding(codes, n);
            if (positionBytes > blob.Length - at) throw new CodecException(CodecErrorCode.Truncated, $"positions of {positionBytes} bytes, {blob.Length - at} left");
            ReadPositions(Take(blob, ref at, (int)positionBytes), t, kept, coding, positions.AsSpan(0, n));
            var tensor = destination.Slice(checked((int)t.Offset), t.Elements);
            var mask = sent.IsEmpty ? sent : sent.Slice(checked((int)t.Offset), t.Elements);
            for (int j = 0; j < n; j++)
            {
                int flat = t.FlatIndex(j / kept, positions[j]);
                tensor[flat] = decoded[(codes[j >> 2] >> (2 * (j & 3))) & 3];
                if (!mask.IsEmpty) mask[flat] = true;
            }
        }

        if (at != blob.Length) throw new CodecException(CodecErrorCode.Malformed, $"{blob.Length - at} bytes after the last tensor");
    }

    /// <summary>
    /// The <paramref name="kept"/> positions of largest |x| in each tile of band <paramref name="band"/> (one row of
    /// tiles), ascending per tile; ties go to the lower position. The band is read row by row, one histogram per tile
    /// of the top 10 bits of |x| (exponent and 2 mantissa bits), which finds the bucket holding each tile's k-th
    /// largest; a second pass keeps everything above it and ranks only that bucket's entries exactly, by
    /// (|x| bits, −position). O(tile) whatever the order of the values. The top buckets hold NaN and infinities.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SelectBand(ReadOnlySpan<float> tensor, in TileTensor t, int band, int kept, TileScratch scratch, Span<int> positions)
    {
        int across = t.TilesAcross, size = t.TileSize, w = t.TileCols;
        if (kept == size)
        {
            for (int p = 0; p < positions.Length; p++) positions[p] = p % size;
            return;
        }

        var histograms = scratch.Histograms(across);
        var rows = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(tensor.Slice(band * t.TileRows * t.Cols, t.TileRows * t.Cols));
        for (int r = 0; r < t.TileRows; r++)
        {
            var row = rows.Slice(r * t.Cols, t.Cols);
            for (int tc = 0; tc < across; tc++)
            {
                var histogram = histograms.Slice(tc << BucketBits, 1 << BucketBits);
                var part = row.Slice(tc * w, w);
                for (int c = 0; c < part.Length; c++) histogram[(int)((part[c] & 0x7FFFFFFFu) >> BucketShift)]++;
            }
        }

        for (int tc = 0; tc < across; tc++)
        {
            var histogram = histograms.Slice(tc << BucketBits, 1 << BucketBits);
            if (histogram[NonFiniteBucket..].ContainsAnyExcept((ushort)0))
            {
                int at = band * t.TileRows * t.Cols + FirstNonFinite(rows, t, tc);
                throw NonFinite(t.Offset + at, tensor[at]);
            }

            RankTile(rows, t, tc, histogram, kept, scratch.Candidates, positions.Slice(tc * kept, kept));
        }
    }

    /// <summary>One tile's kept positions from its histogram, reading the tile's rows again (see <see cref="SelectBand"/>).</summary>
    private static void RankTile(ReadOnlySpan<uint> rows, in TileTensor t, int tc, ReadOnlySpan<ushort> histogram, int kept, Span<ulong> ranked, Span<int> positions)
    {
        int bucket = histogram.Length - 1, above = 0;
        for (; above + histogram[bucket] < kept; bucket--) above += histogram[bucket];
        int taken = 0, candidates = 0, w = t.TileCols;
        for (int r = 0; r < t.TileRows; r++)
        {
            var part = rows.Slice(r * t.Cols + tc * w, w);
            for (int c = 0; c < part.Length; c++)
            {
                uint key = part[c] & 0x7FFFFFFFu;
                int b = (int)(key >> BucketShift), p = r * w + c;
                if (b > bucket) positions[taken++] = p;
                else if (b == bucket) ranked[candidates++] = ((ulong)key << 32) | (uint)(TileLayout.TileSizeMax - p);
            }
        }

        ranked = ranked[..candidates];
        ranked.Sort();   // ascending: the best candidates are last
        for (int j = 0; taken < kept; j++) positions[taken++] = TileLayout.TileSizeMax - (int)(uint)ranked[^(j + 1)];
        positions.Sort();
    }

    private static int FirstNonFinite(ReadOnlySpan<uint> rows, in TileTensor t, int tc)
    {
        for (int r = 0; r < t.TileRows; r++)
        for (int c = 0; c < t.TileCols; c++)
        {
            if ((rows[r * t.Cols + tc * t.TileCols + c] & 0x7FFFFFFFu) >= 0x7F800000u) return r * t.Cols + tc * t.TileCols + c;
        }

        return 0;
    }

    /// <summary>Bits of |x| below the radix step's bucket; 10 bucket bits (1024 buckets, 2 KiB per tile to clear).</summary>
    private const int BucketShift = 21;
    private const int BucketBits = 31 - BucketShift;
    private const int NonFiniteBucket = (int)(0x7F800000u >> BucketShift);

    /// <summary>Buffers of one encode, reused from band to band.</summary>
    private sealed class TileScratch
    {
        private ushort[] _histograms = [];
        public readonly ulong[] Candidates = new ulong[TileLayout.TileSizeMax];

        /// <summary>Zeroed histograms for <paramref name="tiles"/> tiles.</summary>
        public Span<ushort> Histograms(int tiles)
        {
            if (_histograms.Length < tiles << BucketBits) _histograms = new ushort[tiles << BucketBits];
            var span = _histograms.AsSpan(0, tiles << BucketBits);
            span.Clear();
            return span;
        }
    }

    private static void WriteTensor(SparseBitWriter writer, in TileTensor t, int k, SparseIndexCoding coding, float mu,
        ReadOnlySpan<float> lookup, ReadOnlySpan<byte> codes, ReadOnlySpan<int> positions)
    {
        var head = writer.Append(TensorHeaderBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)t.Elements);
        BinaryPrimitives.WriteSingleLittleEndian(head[4..], mu);
        for (int q = 0; q < 4; q++) BinaryPrimitives.WriteSingleLittleEndian(head[(8 + 4 * q)..], lookup[q]);
        var packed = writer.Append((codes.Length + 3) / 4);
        packed.Clear();
        for (int j = 0; j < codes.Length; j++) packed[j >> 2] |= (byte)(codes[j] << (2 * (j & 3)));
        int before = writer.Length;
        int kept = t.KeptPerTile(k);
        if (kept < t.TileSize) WritePositions(writer, t.TileSize, kept, coding, positions);
        int positionBytes = writer.Flush() - before;
        // The header was appended before the positions; the buffer may have moved, so write through the writer's copy.
        writer.Patch(before - (codes.Length + 3) / 4 - 4, (uint)positionBytes);
    }

    private static void WritePositions(SparseBitWriter writer, int tileSize, int kept, SparseIndexCoding coding, ReadOnlySpan<int> positions)
    {
        if (coding == SparseIndexCoding.Fixed12)
        {
            foreach (int p in positions) writer.Write((uint)p, 12);
            return;
        }

        int b = RiceParameter(tileSize, kept);
        for (int start = 0; start < positions.Length; start += kept)
        {
            int previous = -1;
            foreach (int p in positions.Slice(start, kept))
            {
                int gap = p - previous - 1;
                writer.WriteUnary(gap >> b);
                writer.Write((uint)gap, b);
                previous = p;
            }
        }
    }

    private static void ReadPositions(ReadOnlySpan<byte> bytes, in TileTensor t, int kept, SparseIndexCoding coding, Span<int> positions)
    {
        if (kept == t.TileSize)
        {
            if (bytes.Length != 0) throw new CodecException(CodecErrorCode.Malformed, "positions sent for tiles kept whole");
            for (int j = 0; j < positions.Length; j++) positions[j] = j % kept;
            return;
        }

        var reader = new SparseBitReader(bytes);
        int b = RiceParameter(t.TileSize, kept), quotientMax = t.TileSize >> b;
        for (int start = 0; start < positions.Length; start += kept)
        {
            int previous = -1;
            for (int j = start; j < start + kept; j++)
            {
                int p = coding == SparseIndexCoding.Fixed12 ? (int)reader.Read(12)
                    : previous + 1 + ((reader.ReadUnary(quotientMax) << b) | (int)reader.Read(b));
                if (p <= previous || p >= t.TileSize)
                    throw new CodecException(CodecErrorCode.Malformed, $"position {p} after {previous} in a tile of {t.TileSize}");
                positions[j] = previous = p;
            }
        }

        if (!reader.AtPaddedEnd) throw new CodecException(CodecErrorCode.Malformed, "position bytes do not end with the last position");
    }

    internal static int RiceParameter(int tileSize, int kept) => System.Numerics.BitOperations.Log2((uint)(tileSize / kept));

    private static void CheckEncodeArguments(ReadOnlySpan<float> accumulator, TileLayout layout, int k, SparseIndexCoding coding)
    {
        if (accumulator.Length != layout.Count) throw new ArgumentException($"accumulator of {accumulator.Length}, layout of {layout.Count}");
        if (k < 1 || k > TileLayout.TileSizeMax) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be in [1, 4096]");
        if (coding is not (SparseIndexCoding.Fixed12 or SparseIndexCoding.Rice)) throw new ArgumentOutOfRangeException(nameof(coding));
    }

    private static void WriteHeader(Span<byte> head, int k, SparseIndexCoding coding, int tensors)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(head, Magic);
        head[2] = Version;
        head[3] = (byte)coding;
        BinaryPrimitives.WriteUInt16LittleEndian(head[4..], (ushort)k);
        BinaryPrimitives.WriteUInt16LittleEndian(head[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], (uint)tensors);
    }

    private static (int K, SparseIndexCoding Coding) ReadHeader(ReadOnlySpan<byte> blob, int tensors)
    {
        if (blob.Length < HeaderBytes) throw new CodecException(CodecErrorCode.Truncated, $"a {blob.Length}-byte sparse blob");
        if (BinaryPrimitives.ReadUInt16LittleEndian(blob) != Magic) throw new CodecException(CodecErrorCode.BadMagic, "not a SparseLoCo blob");
        if (blob[2] != Version) throw new CodecException(CodecErrorCode.UnsupportedVersion, $"sparse blob version {blob[2]}");
        if (blob[3] > (byte)SparseIndexCoding.Rice) throw new CodecException(CodecErrorCode.Malformed, $"position coding {blob[3]}");
        int k = BinaryPrimitives.ReadUInt16LittleEndian(blob[4..]);
        if (k < 1 || k > TileLayout.TileSizeMax) throw new CodecException(CodecErrorCode.Malformed, $"k {k}");
        if (BinaryPrimitives.ReadUInt16LittleEndian(blob[6..]) != 0) throw new CodecException(CodecErrorCode.Malformed, "reserved bits set");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(blob[8..]);
        if (count != tensors) throw new CodecException(CodecErrorCode.TargetMismatch, $"{count} tensors, ours has {tensors}");
        return (k, (SparseIndexCoding)blob[3]);
    }

    /// <summary>The four decoded values μ + lookup[q]; every one must be finite.</summary>
    private static void ReadLookup(ReadOnlySpan<byte> head, Span<float> decoded)
    {
        float mu = BinaryPrimitives.ReadSingleLittleEndian(head[4..]);
        for (int q = 0; q < 4; q++)
        {
            decoded[q] = mu + BinaryPrimitives.ReadSingleLittleEndian(head[(8 + 4 * q)..]);
            if (!float.IsFinite(decoded[q])) throw new CodecException(CodecErrorCode.NonFiniteDecoded, $"bin {q} decodes to {decoded[q]}");
        }
    }

    private static void CheckPadding(ReadOnlySpan<byte> codes, int n)
    {
        if (n % 4 != 0 && codes[^1] >> (2 * (n % 4)) != 0) throw new CodecException(CodecErrorCode.Malformed, "code padding bits set");
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> blob, ref int at, int count)
    {
        if (count > blob.Length - at) throw new CodecException(CodecErrorCode.Truncated, $"needs {count} bytes at {at}, {blob.Length - at} left");
        var span = blob.Slice(at, count);
        at += count;
        return span;
    }
}
