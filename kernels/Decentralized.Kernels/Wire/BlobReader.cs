using System.Buffers.Binary;
using System.IO.Hashing;

namespace Decentralized.Kernels;

/// <summary>Reads exact byte counts from an untrusted stream, never past the blob's end, counting
/// bytes against <see cref="DecoderLimits.MaxBlobBytes"/> before each read. Optionally feeds what
/// it reads to a running checksum (the header's).</summary>
internal sealed class BlobReader
{
    private readonly Stream _stream;
    private readonly long _maxBytes;

    public BlobReader(Stream stream, long maxBytes)
    {
        _stream = stream;
        _maxBytes = maxBytes;
    }

    /// <summary>Bytes consumed so far.</summary>
    public long Position { get; private set; }

    /// <summary>When set, every byte read is appended to it.</summary>
    public XxHash3? Hash { get; set; }

    /// <summary>Fills <paramref name="destination"/> completely.</summary>
    public void Read(Span<byte> destination)
    {
        if (Position + destination.Length > _maxBytes)
        {
            throw new CodecException(CodecErrorCode.LimitExceeded,
                $"blob would exceed the {_maxBytes}-byte limit at offset {Position + destination.Length}");
        }

        int read = _stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        if (read < destination.Length)
        {
            throw new CodecException(CodecErrorCode.Truncated,
                $"blob ends at offset {Position + read}; {destination.Length} bytes were expected at offset {Position}");
        }

        Position += read;
        Hash?.Append(destination);
    }

    public byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public ushort ReadUInt16()
    {
        Span<byte> bytes = stackalloc byte[2];
        Read(bytes);
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    public uint ReadUInt32()
    {
        Span<byte> bytes = stackalloc byte[4];
        Read(bytes);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    public ulong ReadUInt64()
    {
        Span<byte> bytes = stackalloc byte[8];
        Read(bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }
}
