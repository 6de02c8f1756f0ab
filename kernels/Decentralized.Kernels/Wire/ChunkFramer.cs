using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using K4os.Compression.LZ4;

namespace Decentralized.Kernels;

/// <summary>Frames raw chunks for the wire (optional LZ4, chunk header, checksum) and unframes them,
/// holding two pooled frame buffers (about twice one chunk's raw bytes). The encoder sizes them up
/// front; the decoder grows them to the chunks it actually receives. Not thread-safe.</summary>
internal sealed class ChunkFramer : IDisposable
{
    private readonly bool _lz4;
    private byte[]? _raw;
    private byte[]? _packed;

    public ChunkFramer(bool lz4, int maxRawLength, bool forEncoding = true)
    {
        _lz4 = lz4;
        MaxRawLength = maxRawLength;
        if (forEncoding)
        {
            _raw = ArrayPool<byte>.Shared.Rent(WireFormat.ChunkHeaderBytes + maxRawLength);
            _packed = lz4 ? ArrayPool<byte>.Shared.Rent(WireFormat.ChunkHeaderBytes + LZ4Codec.MaximumOutputSize(maxRawLength)) : null;
        }
    }

    public int MaxRawLength { get; }

    /// <summary>Where the chunk codec writes raw bytes: after room for the chunk header.</summary>
    public Span<byte> RawArea => _raw.AsSpan(WireFormat.ChunkHeaderBytes, MaxRawLength);

    /// <summary>Frames the <paramref name="rawLength"/> bytes in <see cref="RawArea"/>; returns the
    /// frame (header + stored bytes) and its checksum.</summary>
    public ReadOnlySpan<byte> Frame(int tensor, long chunk, int rawLength, out ulong checksum)
    {
        byte[] frame = _raw!;
        int stored = rawLength;
        byte flags = 0;
        if (_lz4 && rawLength > 0)
        {
            int packed = LZ4Codec.Encode(_raw.AsSpan(WireFormat.ChunkHeaderBytes, rawLength),
                _packed.AsSpan(WireFormat.ChunkHeaderBytes), LZ4Level.L00_FAST);
            if (packed > 0 && packed < rawLength)
            {
                frame = _packed!;
                stored = packed;
                flags = WireFormat.FlagLz4;
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

        bool packed = flags == WireFormat.FlagLz4;
        if ((flags & ~WireFormat.FlagLz4) != 0 || (packed && !_lz4))
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
