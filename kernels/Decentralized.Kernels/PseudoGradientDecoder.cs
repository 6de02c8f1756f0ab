using System.IO.Hashing;

namespace Decentralized.Kernels;

/// <summary>Decodes blobs written by <see cref="PseudoGradientEncoder"/> from untrusted streams.
/// Every length is checked against <see cref="DecoderLimits"/> and the format before anything of
/// that size is read or allocated; every failure is a <see cref="CodecException"/>; the decoder
/// reads exactly the blob and nothing after it, in small reads: wrap an unbuffered network stream
/// in a <see cref="BufferedStream"/>. Thread-safe (no shared state).</summary>
public static class PseudoGradientDecoder
{
    /// <summary>Decodes into caller-owned buffers without allocating per-tensor memory: the blob must
    /// hold exactly the tensors named by <paramref name="targets"/> (any order), with the same
    /// shapes. Chunks are verified one by one before they are decoded, so when this throws some
    /// destinations may already hold decoded values and others stale data: treat all as unspecified.</summary>
    /// <exception cref="CodecException">Truncated, corrupt, oversized or non-finite data, an unknown
    /// codec, or tensors that do not match <paramref name="targets"/> (<see cref="CodecErrorCode.TargetMismatch"/>).</exception>
    public static void DecodeInto(Stream source, IReadOnlyList<TensorTarget> targets, DecoderLimits limits)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        var reader = new BlobReader(source, limits.MaxBlobBytes);
        BlobHeader header = HeaderCodec.Read(reader, limits);
        var destinations = new Memory<float>[header.Tensors.Length];
        var byName = new Dictionary<string, TensorTarget>(StringComparer.Ordinal);
        foreach (TensorTarget target in targets)
        {
            ArgumentNullException.ThrowIfNull(target, nameof(targets));
            if (!byName.TryAdd(target.Name, target))
            {
                throw new ArgumentException($"target name '{target.Name}' appears twice", nameof(targets));
            }
        }

        if (header.Tensors.Length != byName.Count)
        {
            throw Mismatch($"blob holds {header.Tensors.Length} tensors; {byName.Count} targets were given");
        }

        for (int t = 0; t < header.Tensors.Length; t++)
        {
            TensorDescriptor tensor = header.Tensors[t];
            if (!byName.TryGetValue(tensor.Name, out TensorTarget? target))
            {
                throw Mismatch($"blob holds tensor '{tensor.Name}', which no target names");
            }

            if (!target.Shape.AsSpan().SequenceEqual(tensor.Shape))
            {
                throw Mismatch($"tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}]; the target expects [{string.Join(", ", target.Shape)}]");
            }

            if (target.Destination.Length != tensor.ElementCount)
            {
                throw Mismatch($"tensor '{tensor.Name}' has {tensor.ElementCount} elements; the target buffer holds {target.Destination.Length}");
            }

            destinations[t] = target.Destination;
        }

        ReadChunks(reader, header, destinations);
    }

    /// <summary>Decodes into freshly allocated arrays, one per tensor, in blob order. Allocation
    /// happens only after the header passed its checksum and <paramref name="limits"/>
    /// (at most <see cref="DecoderLimits.MaxTotalElements"/> floats).</summary>
    /// <exception cref="CodecException">As <see cref="DecodeInto"/>, without target mismatches.</exception>
    public static IReadOnlyList<(string Name, int[] Shape, float[] Values)> Decode(Stream source, DecoderLimits limits)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        var reader = new BlobReader(source, limits.MaxBlobBytes);
        BlobHeader header = HeaderCodec.Read(reader, limits);
        var result = new (string Name, int[] Shape, float[] Values)[header.Tensors.Length];
        var destinations = new Memory<float>[header.Tensors.Length];
        for (int t = 0; t < header.Tensors.Length; t++)
        {
            TensorDescriptor tensor = header.Tensors[t];
            float[] values = new float[tensor.ElementCount];
            result[t] = (tensor.Name, tensor.Shape, values);
            destinations[t] = values;
        }

        ReadChunks(reader, header, destinations);
        return result;
    }

    /// <summary>Reads only the header of a blob: chain, tensor names and shapes (for routing or
    /// sizing buffers before <see cref="DecodeInto"/> on a re-read of the same bytes).</summary>
    public static (CodecChain Chain, IReadOnlyList<(string Name, int[] Shape)> Tensors) ReadHeader(Stream source, DecoderLimits limits)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        BlobHeader header = HeaderCodec.Read(new BlobReader(source, limits.MaxBlobBytes), limits);
        return (header.Chain, header.Tensors.Select(t => (t.Name, t.Shape)).ToArray());
    }

    private static void ReadChunks(BlobReader reader, BlobHeader header, Memory<float>[] destinations)
    {
        var trailer = new XxHash3();
        PseudoGradientEncoder.AppendChecksum(trailer, header.Checksum);
        using var codec = new ChunkCodec(header.Chain, header.ChunkElements, reference: false);
        using var framer = new ChunkFramer(header.Chain, codec.MaxRawLength, forEncoding: false);
        bool sparse = header.Chain.TopK is not null;
        for (int t = 0; t < header.Tensors.Length; t++)
        {
            Span<float> destination = destinations[t].Span;
            for (long c = 0, start = 0; start < destination.Length; c++, start += header.ChunkElements)
            {
                int count = (int)Math.Min(header.ChunkElements, destination.Length - start);
                int bound = codec.RawLengthBound(count);
                ReadOnlySpan<byte> raw = framer.Unframe(reader, t, c, sparse ? -1 : bound, bound, out ulong checksum);
                codec.Decode(raw, destination.Slice((int)start, count));
                PseudoGradientEncoder.AppendChecksum(trailer, checksum);
            }
        }

        if (reader.ReadUInt32() != WireFormat.EndMagic)
        {
            throw new CodecException(CodecErrorCode.Malformed, "blob trailer is missing (no \"DPGE\" after the last chunk)");
        }

        if (reader.ReadUInt64() != trailer.GetCurrentHashAsUInt64())
        {
            throw new CodecException(CodecErrorCode.ChecksumMismatch, "trailer checksum does not match the header and chunk checksums");
        }
    }

    private static CodecException Mismatch(string why) => new(CodecErrorCode.TargetMismatch, why);
}
