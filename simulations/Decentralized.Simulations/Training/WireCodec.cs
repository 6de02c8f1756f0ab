using Decentralized.Kernels;

namespace Decentralized.Simulations.Training;

/// <summary>
/// A codec chain from the kernels, producing and consuming the real wire blobs (header, chunks, checksums) that
/// the simulated peers send each other. Error feedback is kept per (sender, stream) as on a real peer.
/// Decoding treats the blob as untrusted: sizes are bounded by the expected vector and every failure is a
/// <see cref="CodecException"/>.
/// </summary>
public sealed class WireCodec
{
    private readonly PseudoGradientEncoder _encoder;
    private readonly Dictionary<(int Sender, string Stream), ErrorFeedbackState> _feedback = new();

    /// <summary>Parses <paramref name="spec"/> (e.g. <c>fp32</c>, <c>q8</c>, <c>q4+ef</c>, <c>topk:0.05+ef+q8</c>).</summary>
    public WireCodec(string spec)
    {
        Chain = CodecChain.Parse(spec);
        _encoder = new PseudoGradientEncoder(Chain);
    }

    /// <summary>The parsed chain.</summary>
    public CodecChain Chain { get; }

    /// <summary>The chain as written.</summary>
    public string Spec => Chain.Spec;

    /// <summary>True when decoding returns the input exactly.</summary>
    public bool IsLossless => Chain.IsLossless;

    /// <summary>Encodes <paramref name="values"/> as one tensor named <paramref name="stream"/> from <paramref name="sender"/>.</summary>
    public byte[] Encode(ReadOnlyMemory<float> values, int sender, string stream, int seed)
    {
        ErrorFeedbackState? feedback = null;
        if (Chain.UsesErrorFeedback && !_feedback.TryGetValue((sender, stream), out feedback))
            _feedback[(sender, stream)] = feedback = new ErrorFeedbackState();
        using var output = new MemoryStream();
        _encoder.Encode(new[] { new TensorView(stream, new[] { values.Length }, values) }, output, feedback, seed);
        return output.ToArray();
    }

    /// <summary>Decodes a blob that must hold exactly one tensor named <paramref name="stream"/> of <paramref name="count"/> values.</summary>
    public static float[] Decode(byte[] blob, string stream, int count)
    {
        var values = new float[count];
        var limits = new DecoderLimits
        {
            MaxTensorCount = 1,
            MaxElementsPerTensor = count,
            MaxTotalElements = count,
            MaxBlobBytes = Math.Max(1024, blob.LongLength),
        };
        using var input = new MemoryStream(blob, writable: false);
        PseudoGradientDecoder.DecodeInto(input, new[] { new TensorTarget(stream, new[] { count }, values) }, limits);
        return values;
    }

    /// <summary>Forgets a sender's residuals (a peer that rejoined starts clean).</summary>
    public void ResetSender(int sender)
    {
        foreach (var key in _feedback.Keys.Where(k => k.Sender == sender).ToArray()) _feedback.Remove(key);
    }
}
