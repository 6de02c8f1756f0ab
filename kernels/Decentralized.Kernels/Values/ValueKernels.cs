using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Creates the kernel for a value stage: the fast one, or its scalar reference (tests and
/// benchmarks compare the two).</summary>
public static class ValueKernels
{
    /// <summary>The kernel for <paramref name="options"/>.</summary>
    public static IValueKernel Create(ValueCodecOptions options, bool reference = false) => options.Kind switch
    {
        ValueCodecKind.Fp32 => reference ? new Fp32ReferenceKernel() : new Fp32Kernel(),
        ValueCodecKind.Bf16 => reference ? new Bf16ReferenceKernel() : new Bf16Kernel(),
        ValueCodecKind.Fp16 => reference ? new Fp16ReferenceKernel() : new Fp16Kernel(),
        ValueCodecKind.Int8 => reference
            ? new Int8BlockReferenceKernel(options.BlockSize, options.StochasticRounding, options.ScaleFormat)
            : new Int8BlockKernel(options.BlockSize, options.StochasticRounding, options.ScaleFormat),
        ValueCodecKind.Int4 => reference
            ? new Int4BlockReferenceKernel(options.BlockSize, options.StochasticRounding, options.ScaleFormat)
            : new Int4BlockKernel(options.BlockSize, options.StochasticRounding, options.ScaleFormat),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "unknown value codec"),
    };
}
