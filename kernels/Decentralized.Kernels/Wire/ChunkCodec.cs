using System.Runtime.CompilerServices;
using System.Buffers;
using System.Buffers.Binary;
using System.Numerics.Tensors;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Turns one chunk of a tensor into its raw bytes (dense or top-k layout, see
/// <see cref="WireFormat"/>) and back, and applies error feedback. Owns pooled scratch sized to one
/// chunk; not thread-safe.</summary>
internal sealed class ChunkCodec : IDisposable
{
    private readonly CodecChain _chain;
    private readonly IValueKernel _kernel;
    private readonly bool _reference;
    private int[]? _indices;
    private float[]? _selected;
    private float[]? _decoded;

    public ChunkCodec(CodecChain chain, int chunkElements, bool reference)
    {
        _chain = chain;
        _reference = reference;
        _kernel = ValueKernels.Create(chain.Value, reference);
        ChunkElements = chunkElements;
        MaxRawLength = RawLengthBound(chunkElements);
    }

    public int ChunkElements { get; }

    /// <summary>Largest raw chunk this chain can produce for a full chunk.</summary>
    public int MaxRawLength { get; }

    public IValueKernel Kernel => _kernel;

    /// <summary>The chunk size actually used: the request rounded down to whole quantizer blocks
    /// (at least one), so blocks never straddle chunks and results do not depend on chunking.</summary>
    public static int EffectiveChunkElements(CodecChain chain, int requested)
    {
        int block = chain.Value.IsQuantizer ? chain.Value.BlockSize : 16;
        return Math.Max(block, requested / block * block);
    }

    /// <summary>Upper bound of the raw bytes for <paramref name="count"/> elements.</summary>
    public int RawLengthBound(int count) => _chain.TopK is null
        ? _kernel.EncodedLength(count)
        : checked(WireFormat.SparsePrefixBytes + SparseIndexCodec.BitmapLength(count) + _kernel.EncodedLength(count));

    public TopKThreshold Select(ReadOnlySpan<float> values) => _reference
        ? TopKSelectorReference.Select(values, _chain.TopK!.KeptCount(values.Length))
        : TopKSelector.Select(values, _chain.TopK!.KeptCount(values.Length));

    /// <summary>Encodes <paramref name="chunk"/> into <paramref name="raw"/>; returns the raw length.</summary>
    public int Encode(ReadOnlySpan<float> chunk, Span<byte> raw, RoundingContext rounding, ref SparseCursor cursor)
    {
        if (_chain.TopK is null)
        {
            int length = _kernel.EncodedLength(chunk.Length);
            _kernel.Encode(chunk, raw[..length], rounding);
            return length;
        }

        Span<int> indices = Rent(ref _indices, chunk.Length);
        Span<float> selected = Rent(ref _selected, chunk.Length);
        int count = _reference
            ? TopKSelectorReference.Gather(chunk, cursor.Threshold, ref cursor.TiesLeft, indices, selected)
            : TopKSelector.Gather(chunk, cursor.Threshold, ref cursor.TiesLeft, indices, selected);
        (byte mode, int indexLength) = SparseIndexCodec.Choose(indices[..count], chunk.Length);
        int valueLength = _kernel.EncodedLength(count);
        BinaryPrimitives.WriteUInt32LittleEndian(raw, (uint)count);
        raw[4] = mode;
        BinaryPrimitives.WriteUInt32LittleEndian(raw[5..], (uint)indexLength);
        int at = WireFormat.SparsePrefixBytes;
        SparseIndexCodec.Write(mode, indices[..count], chunk.Length, raw.Slice(at, indexLength));
        at += indexLength;
        _kernel.Encode(selected[..count], raw.Slice(at, valueLength), rounding);
        return at + valueLength;
    }

    /// <summary>Error feedback: residual −= what the receiver will decode from <paramref name="raw"/>.
    /// The residual chunk held input + old residual, so afterwards it holds exactly what was not sent.</summary>
    public void ApplyFeedback(ReadOnlySpan<byte> raw, Span<float> residualChunk)
    {
        Span<float> decoded = Rent(ref _decoded, residualChunk.Length);
        Decode(raw, decoded);
        TensorPrimitives.Subtract(residualChunk, decoded, residualChunk);
    }

    /// <summary>Decodes a chunk's raw bytes into <paramref name="destination"/> (the chunk's elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> raw, Span<float> destination)
    {
        if (_chain.TopK is null)
        {
            _kernel.Decode(raw, destination);
            return;
        }

        int n = destination.Length;
        if (raw.Length < WireFormat.SparsePrefixBytes)
        {
            throw Malformed($"top-k chunk of {raw.Length} bytes is shorter than its {WireFormat.SparsePrefixBytes}-byte prefix");
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(raw);
        byte mode = raw[4];
        uint indexLength = BinaryPrimitives.ReadUInt32LittleEndian(raw[5..]);
        if (count > (uint)n)
        {
            throw Malformed($"top-k chunk declares {count} kept elements out of {n}");
        }

        if (indexLength > (uint)SparseIndexCodec.BitmapLength(n) || indexLength > (uint)(raw.Length - WireFormat.SparsePrefixBytes))
        {
            throw Malformed($"top-k index block of {indexLength} bytes does not fit the chunk");
        }

        ReadOnlySpan<byte> indexBytes = raw.Slice(WireFormat.SparsePrefixBytes, (int)indexLength);
        ReadOnlySpan<byte> valueBytes = raw.Slice(WireFormat.SparsePrefixBytes + (int)indexLength);
        Span<int> indices = Rent(ref _indices, (int)count);
        Span<float> values = Rent(ref _selected, (int)count);
        SparseIndexCodec.Read(mode, indexBytes, n, indices);
        _kernel.Decode(valueBytes, values);
        destination.Clear();
        for (int j = 0; j < indices.Length; j++)
        {
            destination[indices[j]] = values[j];
        }
    }

    public void Dispose()
    {
        Return(ref _indices);
        Return(ref _selected);
        Return(ref _decoded);
    }

    // Scratch grows to what the chunks in hand need, so a header that merely claims large chunks
    // costs nothing until matching data arrives.
    private static Span<T> Rent<T>(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            Return(ref buffer);
            buffer = ArrayPool<T>.Shared.Rent(Math.Max(length, 1));
        }

        return buffer.AsSpan(0, length);
    }

    private static void Return<T>(ref T[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<T>.Shared.Return(buffer);
            buffer = null;
        }
    }

    private static CodecException Malformed(string why) => new(CodecErrorCode.Malformed, why);
}
