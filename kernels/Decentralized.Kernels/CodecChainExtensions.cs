namespace Decentralized.Kernels;

/// <summary>Conveniences for in-process use of a chain (the simulator and single-process trainers
/// that exchange pseudo-gradients without a stream).</summary>
public static class CodecChainExtensions
{
    /// <summary>Encodes and decodes one flat vector through <paramref name="chain"/>, exactly as a
    /// receiver of a one-tensor blob would see it, and returns that blob's size in bytes (LZ4 or
    /// rANS, when in the chain, is run so the count is honest). <paramref name="output"/> may not overlap
    /// <paramref name="input"/>. Uses pooled buffers of one chunk.</summary>
    /// <param name="chain">The codec chain.</param>
    /// <param name="input">Values to send.</param>
    /// <param name="output">Receives what the receiver decodes; same length as <paramref name="input"/>.</param>
    /// <param name="feedback">Residuals; required when the chain uses <c>ef</c>, ignored otherwise.</param>
    /// <param name="name">Tensor name (keys the residual and the rounding stream).</param>
    /// <param name="seed">Stochastic-rounding seed.</param>
    /// <param name="limits">Chunking; <see cref="EncoderLimits.Default"/> when null.</param>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.NonFiniteInput"/>, before any residual changes.</exception>
    public static long RoundTrip(this CodecChain chain, ReadOnlySpan<float> input, Span<float> output,
        ErrorFeedbackState? feedback, string name, int seed, EncoderLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (output.Length != input.Length)
        {
            throw new ArgumentException($"output holds {output.Length} values; input has {input.Length}", nameof(output));
        }

        if (chain.UsesErrorFeedback && feedback is null)
        {
            throw new ArgumentException($"chain '{chain.Spec}' uses error feedback; pass an ErrorFeedbackState", nameof(feedback));
        }

        limits ??= EncoderLimits.Default;
        limits.Validate();
        byte[] nameBytes = TensorNames.Encode(name, limits.MaxNameBytes);
        float[]? residual = chain.UsesErrorFeedback ? feedback!.Find(name) : null;
        if (residual is not null && residual.Length != input.Length)
        {
            throw new ArgumentException($"error-feedback residual for '{name}' has {residual.Length} elements but the tensor has {input.Length}; call Remove or Reset after changing the model", nameof(input));
        }

        int bad = residual is null ? FiniteGuard.FindFirstInvalid(input) : FiniteGuard.FindFirstInvalidSum(input, residual);
        if (bad >= 0)
        {
            throw new CodecException(CodecErrorCode.NonFiniteInput,
                $"tensor '{name}' element {bad} is {input[bad]}; only finite values below 2^100 in magnitude can be encoded");
        }

        residual = chain.UsesErrorFeedback ? feedback!.GetOrCreate(name, input.Length) : null;
        int chunkElements = ChunkCodec.EffectiveChunkElements(chain, limits.ChunkElements);
        using var codec = new ChunkCodec(chain, chunkElements, reference: false);
        using var framer = new ChunkFramer(chain, codec.MaxRawLength);
        var sink = new DecodingSink(codec, framer, output);
        TensorPipeline.Encode(codec, chain, input, residual, StochasticRounding.KeyFor(seed, name), framer.RawArea, ref sink);
        long header = HeaderCodec.Measure(chain.Spec, [(nameBytes, [input.Length])]);
        return header + sink.ChunkBytes + WireFormat.TrailerBytes;
    }

    /// <summary>Frames each chunk as the stream encoder would (so the count is the wire's), then
    /// decodes its raw bytes straight into the caller's output.</summary>
    private ref struct DecodingSink(ChunkCodec codec, ChunkFramer framer, Span<float> output) : IChunkSink
    {
        private readonly Span<float> _output = output;

        public long ChunkBytes { get; private set; }

        public void Accept(long chunk, int rawLength, int start, int count)
        {
            ChunkBytes += framer.Frame(0, chunk, rawLength, count, out _).Length;
            codec.Decode(framer.RawArea[..rawLength], _output.Slice(start, count));
        }
    }
}
