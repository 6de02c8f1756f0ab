using Decentralized.Kernels;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// What a flat vector looks like after crossing the wire: encode then decode, returning the encoded size.
/// The in-process comparison uses it to train on exactly what peers would receive and to count bytes honestly.
/// </summary>
public interface IVectorCodec
{
    /// <summary>The codec chain, e.g. <c>fp32</c> or <c>q4+ef</c>.</summary>
    string Spec { get; }

    /// <summary>True when decoding returns the input bit for bit.</summary>
    bool IsLossless { get; }

    /// <summary>
    /// Encodes <paramref name="vector"/> (1-D float32) as sender <paramref name="sender"/>'s stream
    /// <paramref name="stream"/> (error-feedback residuals are kept per sender and stream) and returns the
    /// decoded copy and the encoded byte count.
    /// </summary>
    (Tensor Decoded, long Bytes) RoundTrip(Tensor vector, int sender, string stream, int seed);

    /// <summary>The error-feedback residuals kept so far, by sender and stream (empty for chains without <c>+ef</c>).</summary>
    IReadOnlyDictionary<(int Sender, string Stream), ErrorFeedbackState> Feedback { get; }

    /// <summary>The residuals of one sender's stream, created empty on first use (a checkpoint restores into it).</summary>
    ErrorFeedbackState FeedbackOf(int sender, string stream);
}
