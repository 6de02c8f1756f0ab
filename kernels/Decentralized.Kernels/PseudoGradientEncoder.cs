using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Decentralized.Kernels;

/// <summary>Encodes a set of tensors into one self-describing blob (see <see cref="WireFormat"/>)
/// written to a stream in bounded chunks: memory use is a few chunks' worth whatever the tensor
/// sizes, so a 1 GB pseudo-gradient never needs a second 1 GB buffer. Immutable: concurrent calls
/// are safe as long as each uses its own stream and <see cref="ErrorFeedbackState"/>.</summary>
public sealed class PseudoGradientEncoder
{
    private readonly CodecChain _chain;
    private readonly EncoderLimits _limits;
    private readonly bool _reference;
    private readonly int _chunkElements;

    /// <summary>Creates an encoder for <paramref name="chain"/>.</summary>
    public PseudoGradientEncoder(CodecChain chain, EncoderLimits? limits = null)
        : this(chain, limits, reference: false)
    {
    }

    /// <summary>Test hook: <paramref name="reference"/> selects the scalar reference kernels, whose
    /// blobs must be byte-identical to the fast ones.</summary>
    internal PseudoGradientEncoder(CodecChain chain, EncoderLimits? limits, bool reference)
    {
        ArgumentNullException.ThrowIfNull(chain);
        _chain = chain;
        _limits = limits ?? EncoderLimits.Default;
        _limits.Validate();
        _reference = reference;
        _chunkElements = ChunkCodec.EffectiveChunkElements(chain, _limits.ChunkElements);
    }

    /// <summary>The chain this encoder applies.</summary>
    public CodecChain Chain => _chain;

    /// <summary>Encodes <paramref name="tensors"/> to <paramref name="destination"/>.</summary>
    /// <param name="tensors">Tensors with unique names; their values are only read.</param>
    /// <param name="destination">Any writable stream; it is not seeked, flushed or closed.</param>
    /// <param name="feedback">Residuals of this sender; required when the chain uses <c>ef</c>
    /// (updated in place), ignored otherwise.</param>
    /// <param name="seed">Seed of stochastic rounding: the same seed and input give the same bytes.</param>
    /// <returns>Bytes written.</returns>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.NonFiniteInput"/> when any value
    /// (or value + residual) is NaN, infinite or ≥ 2^100 in magnitude; nothing is written then and
    /// the residuals are untouched.</exception>
    /// <exception cref="ArgumentException">Empty or duplicate names, a shape that does not match the
    /// values, too many tensors, or <c>ef</c> without <paramref name="feedback"/>.</exception>
    /// <remarks>If the stream throws midway, the blob is incomplete and, with error feedback, the
    /// residuals of the tensors already written count them as sent; call
    /// <see cref="ErrorFeedbackState.Reset"/> if that matters.</remarks>
    public long Encode(IReadOnlyList<TensorView> tensors, Stream destination, ErrorFeedbackState? feedback = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(destination);
        if (_chain.UsesErrorFeedback && feedback is null)
        {
            throw new ArgumentException($"chain '{_chain.Spec}' uses error feedback; pass an ErrorFeedbackState", nameof(feedback));
        }

        ErrorFeedbackState? residuals = _chain.UsesErrorFeedback ? feedback : null;
        List<(byte[] Name, int[] Shape)> entries = Validate(tensors);
        CheckFinite(tensors, residuals);

        byte[] header = HeaderCodec.Build(_chain, _chunkElements, entries, out int headerLength, out ulong headerChecksum);
        var trailer = new XxHash3();
        try
        {
            destination.Write(header, 0, headerLength);
            AppendChecksum(trailer, headerChecksum);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
        }

        long written = headerLength;
        using var codec = new ChunkCodec(_chain, _chunkElements, _reference);
        using var framer = new ChunkFramer(_chain, codec.MaxRawLength, reference: _reference);
        for (int t = 0; t < tensors.Count; t++)
        {
            TensorView tensor = tensors[t];
            float[]? residual = residuals?.GetOrCreate(tensor.Name, tensor.Values.Length);
            var sink = new StreamSink(destination, framer, trailer, t);
            TensorPipeline.Encode(codec, _chain, tensor.Values.Span, residual,
                StochasticRounding.KeyFor(seed, tensor.Name), framer.RawArea, ref sink);
            written += sink.Written;
        }

        Span<byte> end = stackalloc byte[WireFormat.TrailerBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(end, WireFormat.EndMagic);
        BinaryPrimitives.WriteUInt64LittleEndian(end[4..], trailer.GetCurrentHashAsUInt64());
        destination.Write(end);
        return written + WireFormat.TrailerBytes;
    }

    /// <summary>Exact size of the blob header for these tensors (the chunks follow it).</summary>
    public long MeasureHeader(IReadOnlyList<TensorView> tensors) => HeaderCodec.Measure(_chain.Spec, Validate(tensors));

    internal static void AppendChecksum(XxHash3 hash, ulong checksum)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, checksum);
        hash.Append(bytes);
    }

    private List<(byte[] Name, int[] Shape)> Validate(IReadOnlyList<TensorView> tensors)
    {
        if (tensors.Count > _limits.MaxTensorCount)
        {
            throw new ArgumentException($"{tensors.Count} tensors exceed EncoderLimits.MaxTensorCount ({_limits.MaxTensorCount})", nameof(tensors));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<(byte[] Name, int[] Shape)>(tensors.Count);
        foreach (TensorView tensor in tensors)
        {
            ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
            byte[] name = TensorNames.Encode(tensor.Name, _limits.MaxNameBytes);
            if (!names.Add(tensor.Name))
            {
                throw new ArgumentException($"tensor name '{tensor.Name}' appears twice", nameof(tensors));
            }

            long elements = TensorNames.CheckShape(tensor.Name, tensor.Shape);
            if (elements != tensor.Values.Length)
            {
                throw new ArgumentException($"tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}] ({elements} elements) but {tensor.Values.Length} values", nameof(tensors));
            }

            entries.Add((name, tensor.Shape));
        }

        return entries;
    }

    private static void CheckFinite(IReadOnlyList<TensorView> tensors, ErrorFeedbackState? residuals)
    {
        foreach (TensorView tensor in tensors)
        {
            ReadOnlySpan<float> values = tensor.Values.Span;
            float[]? residual = residuals?.Find(tensor.Name);
            if (residual is not null && residual.Length != values.Length)
            {
                throw new ArgumentException($"error-feedback residual for '{tensor.Name}' has {residual.Length} elements but the tensor has {values.Length}; call Remove or Reset after changing the model", nameof(tensors));
            }

            int bad = residual is null ? FiniteGuard.FindFirstInvalid(values) : FiniteGuard.FindFirstInvalidSum(values, residual);
            if (bad >= 0)
            {
                string what = residual is null ? $"{values[bad]}" : $"{values[bad]} (+ residual {residual[bad]})";
                throw new CodecException(CodecErrorCode.NonFiniteInput,
                    $"tensor '{tensor.Name}' element {bad} is {what}; only finite values below 2^100 in magnitude can be encoded");
            }
        }
    }

    private sealed class StreamSink(Stream destination, ChunkFramer framer, XxHash3 trailer, int tensor) : IChunkSink
    {
        public long Written { get; private set; }

        public void Accept(long chunk, int rawLength, int start, int count)
        {
            ReadOnlySpan<byte> frame = framer.Frame(tensor, chunk, rawLength, count, out ulong checksum);
            destination.Write(frame);
            AppendChecksum(trailer, checksum);
            Written += frame.Length;
        }
    }
}
