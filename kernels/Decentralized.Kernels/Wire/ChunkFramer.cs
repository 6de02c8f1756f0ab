using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Decentralized.Kernels.Entropy;
using K4os.Compression.LZ4;

namespace Decentralized.Kernels;

/// <summary>Frames raw chunks for the wire (optional LZ4 or rANS stage, chunk header, checksum) and
/// unframes them, holding two pooled frame buffers (about twice one chunk's raw bytes). The encoder
/// sizes them up front; the decoder grows them to the chunks it actually receives. Not thread-safe.</summary>
internal sealed class ChunkFramer : IDisposable
{
    private readonly CodecChain _chain;
    private readonly AnsChunkCodec? _ans;
    private byte[]? _raw;
    private byte[]? _packed;

    /// <param name="chain">The chain: its lossless stage, and for <c>ans</c> the layout to split by.</param>
    /// <param name="maxRawLength">Largest raw chunk.</param>
    /// <param name="forEncoding">Size the buffers now (encoder) or grow them as chunks arrive (decoder).</param>
    /// <param name="reference">Use the scalar reference entropy coder (tests).</param>
    public ChunkFramer(CodecChain chain, int maxRawLength, bool forEncoding = true, bool reference = false)
    {
        _chain = chain;
        _ans = chain.UsesAns ? new AnsChunkCodec(reference) : null;
        MaxRawLength = maxRawLength;
        if (forEncoding)
        {
            _raw = ArrayPool<byte>.Shared.Rent(WireFormat.ChunkHeaderBytes + maxRawLength);
            int packedMax = chain.Lossless switch
            {
                LosslessStage.Lz4 => LZ4Codec.MaximumOutputSize(maxRawLength),
                LosslessStage.Ans => AnsChunkCodec.MaxStoredLength(maxRawLength),
                _ => -1,
            };
            _packed = packedMax < 0 ? null : ArrayPool<byte>.Shared.Rent(WireFormat.ChunkHeaderBytes + packedMax);
        }
    }

    public int MaxRawLength { get; }

    /// <summary>Where the chunk codec writes raw bytes: after room for the chunk header.</summary>
    public Span<byte> RawArea => _raw.AsSpan(WireFormat.ChunkHeaderBytes, MaxRawLength);

    /// <summary>Frames the <paramref name="rawLength"/> bytes in <see cref="RawArea"/>, which encode
    /// <paramref name="count"/> elements; returns the frame (header + stored bytes) and its checksum.
    /// <see cref="RawArea"/> is left as it was.</summary>
    public ReadOnlySpan<byte> Frame(int tensor, long chunk, int rawLength, int count, out ulong checksum)
    {
        byte[] frame = _raw!;
        int stored = rawLength;
        byte flags = 0;
        if (_chain.Lossless != LosslessStage.None && rawLength > 0)
        {
            int packed = Pack(_raw.AsSpan(WireFormat.ChunkHeaderBytes, rawLength), count, _packed.AsSpan(WireFormat.ChunkHeaderBytes));
            if (packed > 0 && packed < rawLength)
            {
                frame = _packed!;
                stored = packed;
                flags = _chain.UsesLz4 ? WireFormat.FlagLz4 : WireFormat.FlagAns;
            }
        }

        Span<byte> header = frame.AsSpan(0, WireFormat.ChunkHeaderBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)rawLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)stored);
        header[8] = flags;
        checksum = XxHash3.HashToUInt64(frame.AsSpan(WireFormat.ChunkHeaderBytes, stored),
            WireFormat.ChunkSeed(tensor, chunk, rawLength, stored, flags));
        BinaryPrimitives.WriteUInt64LittleEndian(header[9..], checksum);
        return frame.AsSpan(0, WireFormat.ChunkHeaderBytes + stored);
    }

    /// <summary>Reads one chunk frame for a chunk whose raw length must be exactly
    /// <paramref name="exactRaw"/> (dense) or at most <paramref name="maxRaw"/> (top-k; pass
    /// <paramref name="exactRaw"/> −1), verifies it and returns the raw bytes.</summary>
    public ReadOnlySpan<byte> Unframe(BlobReader reader, int tensor, long chunk, int exactRaw, int maxRaw, out ulong checksum)
    {
        Span<byte> header = stackalloc byte[WireFormat.ChunkHeaderBytes];
        reader.Read(header);
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(header);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        byte flags = header[8];
        checksum = BinaryPrimitives.ReadUInt64LittleEndian(header[9..]);
        if (exactRaw >= 0 ? raw != (uint)exactRaw : raw > (uint)maxRaw)
        {
            throw new CodecException(CodecErrorCode.Malformed, $"{Where(tensor, chunk)} declares {raw} raw bytes; expected {(exactRaw >= 0 ? exactRaw : $"at most {maxRaw}")}");
        }

        byte allowed = _chain.Lossless switch
        {
            LosslessStage.Lz4 => WireFormat.FlagLz4,
            LosslessStage.Ans => WireFormat.FlagAns,
            _ => 0,
        };
        bool packed = flags != 0;
        if ((flags & ~allowed) != 0)
        {
            throw new CodecException(CodecErrorCode.Malformed, $"{Where(tensor, chunk)} has flags 0x{flags:X2} this chain does not allow");
        }

        if (packed ? stored == 0 || stored >= raw : stored != raw)
        {
            throw new CodecException(CodecErrorCode.Malformed, $"{Where(tensor, chunk)} stores {stored} bytes for {raw} raw bytes");
        }

        Span<byte> storedBytes = packed ? ReadGrowing(reader, ref _packed, (int)stored) : ReadGrowing(reader, ref _raw, (int)stored);
        if (XxHash3.HashToUInt64(storedBytes, WireFormat.ChunkSeed(tensor, chunk, (int)raw, (int)stored, flags)) != checksum)
        {
            throw new CodecException(CodecErrorCode.ChecksumMismatch, $"{Where(tensor, chunk)} checksum does not match");
        }

        if (!packed)
        {
            return storedBytes;
        }

        Span<byte> rawBytes = Ensure(ref _raw, (int)raw);
        if (_ans is not null)
        {
            _ans.Decode(storedBytes, rawBytes);
            return rawBytes;
        }

        int decoded = LZ4Codec.Decode(storedBytes, rawBytes);
        if (decoded != (int)raw)
        {
            throw new CodecException(CodecErrorCode.Malformed, $"{Where(tensor, chunk)} LZ4 block does not decode to {raw} bytes");
        }

        return rawBytes;
    }

    // Reads `length` bytes, growing the buffer (from 64 KiB, doubling) only as bytes actually arrive:
    // a chunk header that merely announces a large chunk costs a hostile peer its bytes first.
    private static Span<byte> ReadGrowing(BlobReader reader, ref byte[]? buffer, int length)
    {
        int have = 0;
        while (have < length)
        {
            int target = Math.Min(length, Math.Max(2 * have, 64 << 10));
            if (buffer is null || buffer.Length < target)
            {
                byte[] grown = ArrayPool<byte>.Shared.Rent(target);
                if (buffer is not null)
                {
                    buffer.AsSpan(0, have).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                buffer = grown;
            }

            reader.Read(buffer.AsSpan(have, target - have));
            have = target;
        }

        return buffer.AsSpan(0, length);
    }

    // The lossless stage's stored form of a raw chunk, or a length ≥ raw when it does not help.
    private int Pack(ReadOnlySpan<byte> raw, int count, Span<byte> destination)
    {
        if (_ans is null)
        {
            return LZ4Codec.Encode(raw, destination, LZ4Level.L00_FAST);
        }

        Span<AnsSegment> segments = stackalloc AnsSegment[AnsLayout.MaxSegments];
        int used = AnsLayout.Split(_chain, raw, count, segments);
        return _ans.Encode(raw, segments[..used], destination);
    }

    private static Span<byte> Ensure(ref byte[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        }

        return buffer.AsSpan(0, length);
    }

    private static string Where(int tensor, long chunk) => $"tensor {tensor} chunk {chunk}";

    public void Dispose()
    {
        _ans?.Dispose();
        if (_raw is not null)
        {
            ArrayPool<byte>.Shared.Return(_raw);
            _raw = null;
        }

        if (_packed is not null)
        {
            ArrayPool<byte>.Shared.Return(_packed);
            _packed = null;
        }
    }
}
