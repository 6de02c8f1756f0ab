using Decentralized.Kernels;

namespace Decentralized.Node.Rounds;

/// <summary>How flat float32 vectors are put on the wire between peers (the kernels' codec chains).</summary>
public interface IUpdateCodec
{
    /// <summary>Chain name, e.g. <c>fp32</c> or <c>q4+ef</c>.</summary>
    string Spec { get; }

    /// <summary>True when decoding returns the input exactly.</summary>
    bool IsLossless { get; }

    /// <summary>Encodes a vector; <paramref name="stream"/> names the error-feedback residual it updates.</summary>
    byte[] Encode(ReadOnlySpan<float> values, string stream, int seed);

    /// <summary>Decodes a blob from an untrusted peer into <paramref name="destination"/>; throws on any malformed, mis-shaped or non-finite input.</summary>
    void DecodeInto(ReadOnlySpan<byte> blob, Span<float> destination);

    /// <summary>The error-feedback residuals kept so far, by stream (empty for chains without <c>+ef</c>).</summary>
    IReadOnlyDictionary<string, ErrorFeedbackState> Feedback { get; }

    /// <summary>The residuals of one stream, created empty on first use (a checkpoint restores into it).</summary>
    ErrorFeedbackState FeedbackOf(string stream);
}
