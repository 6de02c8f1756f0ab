using Decentralized.Kernels;
using Decentralized.Node.Training;

namespace Decentralized.Node.Rounds;

/// <summary>
/// Updates on the wire in the kernels' self-describing format, one tensor per model parameter (names and
/// shapes are checked on decode, so a peer with another model layout is refused). The decoder is bounded by
/// the model's own size before it allocates anything.
/// </summary>
public sealed class ChainUpdateCodec : IUpdateCodec
{
    private readonly CodecChain _chain;
    private readonly PseudoGradientEncoder _encoder;
    private readonly FlatParameters _layout;
    private readonly DecoderLimits _limits;
    private readonly Dictionary<string, ErrorFeedbackState> _feedback = new();

    public ChainUpdateCodec(string spec, FlatParameters layout)
    {
        _chain = CodecChain.Parse(spec);
        _encoder = new PseudoGradientEncoder(_chain);
        _layout = layout;
        _limits = new DecoderLimits { MaxTensorCount = layout.Names.Count, MaxTotalElements = layout.Count, MaxElementsPerTensor = layout.Count };
    }

    /// <summary>
    /// The largest blob of <paramref name="kind"/> any chain can produce for <paramref name="layout"/>: at most 9 bytes per
    /// value (fp32 plus a 5-byte varint index, the worst a sparse chain keeping every value could do; dense fp32 is 4)
    /// plus generous per-tensor headers; Δ-and-φ carries two vectors behind a 4-byte length. A receiver refuses a larger
    /// declared size from the header, before it allocates anything.
    /// </summary>
    public static long BlobBytesMax(FlatParameters layout, Payload kind)
    {
        long vector = 9 * layout.Count + 1024L * layout.Names.Count + 64 * 1024 + RoundEngine.FingerprintBytes;
        return Math.Min(kind == Payload.DeltaAndSlow ? 4 + 2 * vector : vector, Array.MaxLength);
    }

    public string Spec => _chain.Spec;
    public bool IsLossless => _chain.IsLossless;

    public byte[] Encode(ReadOnlySpan<float> values, string stream, int seed)
    {
        var copy = values.ToArray();
        var views = Enumerable.Range(0, _layout.Names.Count)
            .Select(i => new TensorView(_layout.Names[i], _layout.Shapes[i], copy.AsMemory(checked((int)_layout.Offsets[i]), Size(i)))).ToArray();
        var fb = _chain.UsesErrorFeedback ? FeedbackOf(stream) : null;
        using var output = new MemoryStream();
        _encoder.Encode(views, output, fb, seed);
        return output.ToArray();
    }

    public void DecodeInto(ReadOnlySpan<byte> blob, Span<float> destination)
    {
        var buffer = new float[destination.Length];
        var targets = Enumerable.Range(0, _layout.Names.Count)
            .Select(i => new TensorTarget(_layout.Names[i], _layout.Shapes[i], buffer.AsMemory(checked((int)_layout.Offsets[i]), Size(i)))).ToArray();
        using var input = new MemoryStream(blob.ToArray(), writable: false);
        PseudoGradientDecoder.DecodeInto(input, targets, _limits);
        buffer.CopyTo(destination);
    }

    public IReadOnlyDictionary<string, ErrorFeedbackState> Feedback => _feedback;

    public ErrorFeedbackState FeedbackOf(string stream)
    {
        if (!_feedback.TryGetValue(stream, out var fb)) _feedback[stream] = fb = new ErrorFeedbackState();
        return fb;
    }

    private int Size(int i) => _layout.Shapes[i].Aggregate(1, (a, d) => checked(a * d));
}
