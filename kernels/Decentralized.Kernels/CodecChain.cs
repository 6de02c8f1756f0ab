using System.Globalization;
using System.Text;

namespace Decentralized.Kernels;

/// <summary>A parsed, validated codec chain: an optional top-k sparsifier, one value codec, an
/// optional error-feedback wrapper around the lossy stages and an optional lossless last stage (LZ4 or
/// rANS entropy coding). Immutable and thread-safe; parse once and reuse.</summary>
public sealed partial class CodecChain
{
    private CodecChain(TopKOptions? topK, ValueCodecOptions value, bool errorFeedback, LosslessStage lossless)
    {
        TopK = topK;
        Value = value;
        UsesErrorFeedback = errorFeedback;
        Lossless = lossless;
        Spec = BuildCanonicalSpec();
    }

    /// <summary>The canonical chain string (lower case, stages in pipeline order, defaults omitted,
    /// the value stage always present), e.g. <c>topk:0.01+ef+q8</c>. Parsing it yields an equal
    /// chain; it is what the wire format records.</summary>
    public string Spec { get; }

    /// <summary>True when the chain contains <c>ef</c>: the encoder then needs an
    /// <see cref="ErrorFeedbackState"/> and adds last round's unsent remainder to the input.</summary>
    public bool UsesErrorFeedback { get; }

    /// <summary>The top-k stage, or null when every element is sent.</summary>
    public TopKOptions? TopK { get; }

    /// <summary>The value codec applied to the (dense or selected) values.</summary>
    public ValueCodecOptions Value { get; }

    /// <summary>The lossless stage over each chunk's packed bytes (kept raw when it does not shrink them).</summary>
    public LosslessStage Lossless { get; }

    /// <summary>True when the packed bytes of each chunk go through LZ4.</summary>
    public bool UsesLz4 => Lossless == LosslessStage.Lz4;

    /// <summary>True when the packed bytes of each chunk are rANS entropy coded (<c>ans</c>).</summary>
    public bool UsesAns => Lossless == LosslessStage.Ans;

    /// <summary>True when decoding reproduces the input bit for bit.</summary>
    public bool IsLossless => TopK is null && Value.IsLossless;

    /// <inheritdoc />
    public override string ToString() => Spec;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is CodecChain other && other.Spec == Spec;

    /// <inheritdoc />
    public override int GetHashCode() => Spec.GetHashCode(StringComparison.Ordinal);

    private string BuildCanonicalSpec()
    {
        var parts = new List<string>(4);
        if (TopK is not null)
        {
            parts.Add(TopK.Count is int count
                ? $"topk:{count.ToString(CultureInfo.InvariantCulture)}"
                : $"topk:{FormatFraction(TopK.Fraction!.Value)}");
        }

        if (UsesErrorFeedback)
        {
            parts.Add("ef");
        }

        parts.Add(ValueSpec(Value));
        if (Lossless != LosslessStage.None)
        {
            parts.Add(UsesLz4 ? "lz4" : "ans");
        }

        return string.Join('+', parts);
    }

    // A fraction must not print as a plain integer ("1"), which would re-parse as a count.
    private static string FormatFraction(double fraction)
    {
        string text = fraction.ToString("R", CultureInfo.InvariantCulture);
        return text.AsSpan().IndexOfAny('.', 'E') >= 0 ? text : text + ".0";
    }

    private static string ValueSpec(ValueCodecOptions value)
    {
        var text = new StringBuilder(value.Kind switch
        {
            ValueCodecKind.Fp32 => "fp32",
            ValueCodecKind.Bf16 => "bf16",
            ValueCodecKind.Fp16 => "fp16",
            ValueCodecKind.Int8 => "q8",
            _ => "q4",
        });
        if (value.IsQuantizer && value.BlockSize != ValueCodecOptions.DefaultBlockSize)
        {
            text.Append(':').Append(value.BlockSize.ToString(CultureInfo.InvariantCulture));
        }

        if (value.ScaleFormat == BlockScaleFormat.Bf16)
        {
            text.Append(":bf16");
        }

        if (value.StochasticRounding)
        {
            text.Append(":sr");
        }

        return text.ToString();
    }
}
