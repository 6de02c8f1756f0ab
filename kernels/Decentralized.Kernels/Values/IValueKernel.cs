namespace Decentralized.Kernels;

/// <summary>A value codec over a flat run of floats: the fast kernels and their scalar references
/// in <c>Reference/</c> implement it with identical byte layouts and identical results.</summary>
public interface IValueKernel
{
    /// <summary>The codec and its parameters.</summary>
    ValueCodecOptions Options { get; }

    /// <summary>Exact number of bytes <see cref="Encode"/> writes for <paramref name="count"/> values.</summary>
    int EncodedLength(int count);

    /// <summary>Encodes <paramref name="source"/> into the first <see cref="EncodedLength"/> bytes of
    /// <paramref name="destination"/>. Every value must satisfy |x| &lt; <see cref="ValueRange.MaxMagnitude"/>
    /// (the pipeline checks this before calling).</summary>
    /// <param name="source">Values to encode.</param>
    /// <param name="destination">At least <c>EncodedLength(source.Length)</c> bytes.</param>
    /// <param name="rounding">Key and counter of the stochastic-rounding generator; ignored by
    /// deterministic codecs.</param>
    void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding);

    /// <summary>Decodes exactly <c>EncodedLength(destination.Length)</c> bytes into
    /// <paramref name="destination"/>.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> for a wrong length or
    /// non-zero padding, <see cref="CodecErrorCode.NonFiniteDecoded"/> for NaN, infinities or
    /// out-of-range scales.</exception>
    void Decode(ReadOnlySpan<byte> source, Span<float> destination);
}
