using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Decentralized.Kernels;

/// <summary>Writes and reads the blob header (layout in <see cref="WireFormat"/>).</summary>
internal static class HeaderCodec
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Exact header length, checksum included.</summary>
    public static long Measure(string spec, IReadOnlyList<(byte[] Name, int[] Shape)> tensors)
    {
        long length = WireFormat.PrefixBytes + spec.Length + 8 + 8;
        foreach ((byte[] name, int[] shape) in tensors)
        {
            length += 2 + name.Length + 2 + 4L * shape.Length + 8;
        }

        return length;
    }

    /// <summary>Builds the header into a pooled buffer (return it to <see cref="ArrayPool{T}.Shared"/>);
    /// <paramref name="checksum"/> is the header checksum, also written at its end.</summary>
    public static byte[] Build(CodecChain chain, int chunkElements, IReadOnlyList<(byte[] Name, int[] Shape)> tensors,
        out int length, out ulong checksum)
    {
        long measured = Measure(chain.Spec, tensors);
        if (measured > Array.MaxLength)
        {
            throw new ArgumentException($"header of {measured} bytes is too large; send fewer tensors per blob");
        }

        length = (int)measured;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        Span<byte> span = buffer.AsSpan(0, length);
        BinaryPrimitives.WriteUInt32LittleEndian(span, WireFormat.Magic);
        span[4] = WireFormat.Version;
        span[5] = 0;
        span[6] = (byte)chain.Spec.Length;
        int at = WireFormat.PrefixBytes + Encoding.ASCII.GetBytes(chain.Spec, span[WireFormat.PrefixBytes..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)chunkElements);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], (uint)tensors.Count);
        at += 8;
        foreach ((byte[] name, int[] shape) in tensors)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)name.Length);
            name.CopyTo(span[(at + 2)..]);
            at += 2 + name.Length;
            span[at++] = WireFormat.DtypeFloat32;
            span[at++] = (byte)shape.Length;
            long elements = 1;
            foreach (int dim in shape)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)dim);
                at += 4;
                elements *= dim;
            }

            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], (ulong)elements);
            at += 8;
        }

        checksum = XxHash3.HashToUInt64(span[..at]);
        BinaryPrimitives.WriteUInt64LittleEndian(span[at..], checksum);
        return buffer;
    }

    /// <summary>Reads and verifies a header, checking every field against <paramref name="limits"/>
    /// before reading or allocating what it describes.</summary>
    public static BlobHeader Read(BlobReader reader, DecoderLimits limits)
    {
        var hash = new XxHash3();
        reader.Hash = hash;
        if (reader.ReadUInt32() != WireFormat.Magic)
        {
            throw new CodecException(CodecErrorCode.BadMagic, "not a pseudo-gradient blob (magic is not \"DPGC\")");
        }

        byte version = reader.ReadByte();
        if (version != WireFormat.Version)
        {
            throw new CodecException(CodecErrorCode.UnsupportedVersion, $"format version {version}; this decoder reads version {WireFormat.Version}");
        }

        if (reader.ReadByte() != 0)
        {
            throw Malformed("reserved header flags are set");
        }

        string spec = ReadSpec(reader);
        uint chunkElements = reader.ReadUInt32();
        if (chunkElements == 0 || chunkElements > (uint)Math.Min(limits.MaxChunkElements, WireFormat.MaxChunkElements))
        {
            throw Limit($"chunk of {chunkElements} elements (limit {Math.Min(limits.MaxChunkElements, WireFormat.MaxChunkElements)})");
        }

        uint count = reader.ReadUInt32();
        if (count > (uint)limits.MaxTensorCount)
        {
            throw Limit($"{count} tensors (limit {limits.MaxTensorCount})");
        }

        var tensors = new TensorDescriptor[count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        for (int t = 0; t < tensors.Length; t++)
        {
            tensors[t] = ReadTensor(reader, limits);
            total += tensors[t].ElementCount;
            if (total > limits.MaxTotalElements)
            {
                throw Limit($"more than {limits.MaxTotalElements} elements in total");
            }

            if (!names.Add(tensors[t].Name))
            {
                throw Malformed($"tensor name '{tensors[t].Name}' appears twice");
            }
        }

        ulong computed = hash.GetCurrentHashAsUInt64();
        reader.Hash = null;
        ulong stored = reader.ReadUInt64();
        if (stored != computed)
        {
            throw new CodecException(CodecErrorCode.ChecksumMismatch, "header checksum does not match");
        }

        // Interpreted only after the checksum passed, so a corrupted chain reports as corruption.
        return new BlobHeader(CodecChain.Parse(spec), (int)chunkElements, tensors, stored);
    }

    private static string ReadSpec(BlobReader reader)
    {
        int length = reader.ReadByte();
        if (length == 0 || length > CodecChain.MaxSpecLength)
        {
            throw Limit($"chain string of {length} characters (limit {CodecChain.MaxSpecLength})");
        }

        Span<byte> bytes = stackalloc byte[length];
        reader.Read(bytes);
        foreach (byte b in bytes)
        {
            if (b is < 0x21 or > 0x7E)
            {
                throw Malformed("chain string holds a byte outside printable ASCII");
            }
        }

        return Encoding.ASCII.GetString(bytes);
    }

    private static TensorDescriptor ReadTensor(BlobReader reader, DecoderLimits limits)
    {
        int nameLength = reader.ReadUInt16();
        int maxName = Math.Min(limits.MaxNameBytes, WireFormat.MaxNameBytes);
        if (nameLength == 0 || nameLength > maxName)
        {
            throw Limit($"tensor name of {nameLength} bytes (limit 1..{maxName})");
        }

        byte[] nameBytes = new byte[nameLength];
        reader.Read(nameBytes);
        string name;
        try
        {
            name = StrictUtf8.GetString(nameBytes);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed("tensor name is not valid UTF-8");
        }

        byte dtype = reader.ReadByte();
        if (dtype != WireFormat.DtypeFloat32)
        {
            throw Malformed($"tensor '{name}' has unknown dtype {dtype}");
        }

        int rank = reader.ReadByte();
        if (rank > WireFormat.MaxRank)
        {
            throw Limit($"tensor '{name}' has rank {rank} (limit {WireFormat.MaxRank})");
        }

        var shape = new int[rank];
        long product = 1;
        for (int d = 0; d < rank; d++)
        {
            uint dim = reader.ReadUInt32();
            product = dim > int.MaxValue ? long.MaxValue : product * dim;
            if (product > limits.MaxElementsPerTensor || product > int.MaxValue)
            {
                throw Limit($"tensor '{name}' has more than {Math.Min(limits.MaxElementsPerTensor, int.MaxValue)} elements");
            }

            shape[d] = (int)dim;
        }

        ulong elements = reader.ReadUInt64();
        if (elements != (ulong)product)
        {
            throw Malformed($"tensor '{name}' declares {elements} elements but its shape holds {product}");
        }

        return new TensorDescriptor(name, shape, product);
    }

    private static CodecException Limit(string what) => new(CodecErrorCode.LimitExceeded, $"blob declares {what}");

    private static CodecException Malformed(string why) => new(CodecErrorCode.Malformed, why);
}
