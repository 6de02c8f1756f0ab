using System.Globalization;

namespace Decentralized.Kernels;

public sealed partial class CodecChain
{
    /// <summary>Longest chain string accepted (the wire format stores it with a one-byte length).</summary>
    public const int MaxSpecLength = 64;

    private const string ValidNames = "fp32, bf16, fp16, q8 (int8), q4 (int4), topk, ef, lz4, ans";

    /// <summary>The stage names <see cref="Parse"/> accepts.</summary>
    public static IReadOnlyList<string> StageNames { get; } =
        ["fp32", "bf16", "fp16", "q8", "int8", "q4", "int4", "topk", "ef", "lz4", "ans"];

    /// <summary>Parses a chain string.
    /// <para>Grammar (case-insensitive, no spaces inside a stage):</para>
    /// <code>
    /// chain := stage ('+' stage)*
    /// stage := name (':' param)*
    ///
    /// fp32 | bf16 | fp16          value codecs without parameters
    /// q8 | int8 [:B] [:bf16] [:sr]  blockwise absmax int8 (q_max 127), one scale per block of B values
    /// q4 | int4 [:B] [:bf16] [:sr]  blockwise absmax 4-bit (q_max 7), one scale per block
    ///                             B: multiple of 16 in [16, 65536], default 64; bf16: scales stored as
    ///                             bfloat16 (rounded up) instead of fp32; sr: stochastic rounding
    /// topk:F | topk:N             keep the largest magnitudes: F has a '.' or an exponent and lies in
    ///                             (0, 1] (fraction of each tensor); N is a plain integer >= 1 (count)
    /// ef                          error feedback around the lossy stages (needs a lossy stage)
    /// lz4                         lossless LZ4 over each chunk's packed bytes (must be last)
    /// ans                         lossless rANS entropy coding of each chunk's codes, scales and byte
    ///                             planes (must be last; at most one of lz4 and ans)
    /// </code>
    /// <para>At most one value codec (fp32 when none is named), each other stage at most once, topk
    /// before the value codec, lz4 or ans last; ef may stand anywhere. Examples: <c>fp32</c>, <c>int8</c>,
    /// <c>q4+lz4</c>, <c>q4:128:sr</c>, <c>q4+ef+ans</c>, <c>q4:bf16+ef+ans</c>, <c>topk:0.01+ef+q8</c>,
    /// <c>topk:1000+bf16</c>.</para>
    /// </summary>
    /// <exception cref="CodecException">With <see cref="CodecErrorCode.InvalidChain"/> and a message
    /// naming the offending stage and listing the valid names.</exception>
    public static CodecChain Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw Invalid("the chain is empty");
        }

        if (spec.Length > MaxSpecLength)
        {
            throw Invalid($"the chain is {spec.Length} characters long; at most {MaxSpecLength} are allowed");
        }

        var state = new ParseState();
        foreach (string rawStage in spec.Split('+'))
        {
            ParseStage(rawStage.Trim().ToLowerInvariant(), state);
        }

        ValueCodecOptions value = state.Value ?? new ValueCodecOptions(ValueCodecKind.Fp32, 0, false);
        bool lossy = state.TopK is not null || !value.IsLossless;
        if (state.ErrorFeedback && !lossy)
        {
            throw Invalid("'ef' needs a lossy stage (topk, bf16, fp16, q8 or q4) to feed back");
        }

        return new CodecChain(state.TopK, value, state.ErrorFeedback, state.Lossless);
    }

    /// <summary>Like <see cref="Parse"/> but returns false instead of throwing.</summary>
    public static bool TryParse(string? spec, out CodecChain? chain)
    {
        chain = null;
        if (spec is null)
        {
            return false;
        }

        try
        {
            chain = Parse(spec);
            return true;
        }
        catch (CodecException)
        {
            return false;
        }
    }

    private static void ParseStage(string stage, ParseState state)
    {
        if (stage.Length == 0)
        {
            throw Invalid("empty stage (two '+' in a row, or a leading/trailing '+')");
        }

        if (state.Lossless != LosslessStage.None)
        {
            string last = state.Lossless == LosslessStage.Lz4 ? "lz4" : "ans";
            throw Invalid($"'{stage}' follows '{last}'; {last} must be the last stage (and lz4 and ans do not combine)");
        }

        string[] parts = stage.Split(':');
        string name = parts[0];
        ReadOnlySpan<string> args = parts.AsSpan(1);
        switch (name)
        {
            case "fp32" or "bf16" or "fp16":
                NoArgs(name, args);
                SetValue(state, name, new ValueCodecOptions(
                    name == "fp32" ? ValueCodecKind.Fp32 : name == "bf16" ? ValueCodecKind.Bf16 : ValueCodecKind.Fp16, 0, false));
                break;
            case "q8" or "int8":
                SetValue(state, name, ParseQuantizer(name, ValueCodecKind.Int8, args));
                break;
            case "q4" or "int4":
                SetValue(state, name, ParseQuantizer(name, ValueCodecKind.Int4, args));
                break;
            case "topk":
                if (state.TopK is not null || state.Value is not null)
                {
                    throw Invalid("'topk' must appear once, before the value codec");
                }

                state.TopK = ParseTopK(args);
                break;
            case "ef":
                NoArgs(name, args);
                state.ErrorFeedback = !state.ErrorFeedback ? true : throw Invalid("'ef' appears twice");
                break;
            case "lz4":
                NoArgs(name, args);
                state.Lossless = LosslessStage.Lz4;
                break;
            case "ans":
                NoArgs(name, args);
                state.Lossless = LosslessStage.Ans;
                break;
            default:
                throw Invalid($"unknown stage '{name}'");
        }
    }

    private static void SetValue(ParseState state, string name, ValueCodecOptions value)
    {
        if (state.Value is not null)
        {
            throw Invalid($"'{name}' is a second value codec; a chain has at most one of fp32, bf16, fp16, q8, q4");
        }

        state.Value = value;
    }

    private static ValueCodecOptions ParseQuantizer(string name, ValueCodecKind kind, ReadOnlySpan<string> args)
    {
        // Parameters in a fixed order, each at most once: [:B] [:bf16] [:sr].
        int blockSize = ValueCodecOptions.DefaultBlockSize;
        var scale = BlockScaleFormat.Fp32;
        bool stochastic = false;
        int position = 0;
        foreach (string arg in args)
        {
            if (position < 1 && IsDigits(arg))
            {
                if (!int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out blockSize)
                    || blockSize < ValueCodecOptions.MinBlockSize || blockSize > ValueCodecOptions.MaxBlockSize
                    || blockSize % 16 != 0)
                {
                    throw Invalid($"'{name}' block size '{arg}' must be a multiple of 16 in " +
                        $"[{ValueCodecOptions.MinBlockSize}, {ValueCodecOptions.MaxBlockSize}]");
                }

                position = 1;
            }
            else if (position < 2 && arg == "bf16")
            {
                scale = BlockScaleFormat.Bf16;
                position = 2;
            }
            else if (position < 3 && arg == "sr")
            {
                stochastic = true;
                position = 3;
            }
            else
            {
                throw Invalid($"'{name}' parameter '{arg}' is not understood; use {name}[:blockSize][:bf16][:sr], e.g. {name}:128:bf16:sr");
            }
        }

        return new ValueCodecOptions(kind, blockSize, stochastic, scale);
    }

    private static TopKOptions ParseTopK(ReadOnlySpan<string> args)
    {
        if (args.Length != 1 || args[0].Length == 0)
        {
            throw Invalid("'topk' needs exactly one parameter: a fraction in (0, 1] such as topk:0.01, or a count such as topk:1000");
        }

        string arg = args[0];
        if (IsDigits(arg))
        {
            if (!int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
            {
                throw Invalid($"'topk' count '{arg}' must be an integer in [1, {int.MaxValue}]");
            }

            return new TopKOptions(null, count);
        }

        if (!double.TryParse(arg, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out double fraction) || !(fraction > 0 && fraction <= 1))
        {
            throw Invalid($"'topk' fraction '{arg}' must be a number in (0, 1]");
        }

        return new TopKOptions(fraction, null);
    }

    private static void NoArgs(string name, ReadOnlySpan<string> args)
    {
        if (args.Length != 0)
        {
            throw Invalid($"'{name}' takes no parameter");
        }
    }

    private static bool IsDigits(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }

    private static CodecException Invalid(string why) =>
        new(CodecErrorCode.InvalidChain, $"{why}. Valid stages: {ValidNames}.");

    private sealed class ParseState
    {
        public TopKOptions? TopK;
        public ValueCodecOptions? Value;
        public bool ErrorFeedback;
        public LosslessStage Lossless;
    }
}
