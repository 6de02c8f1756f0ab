using System.Buffers.Binary;

namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="Fp16Kernel"/>: IEEE half, round to nearest even, with
/// values beyond ±65504 saturated to ±65504 so the receiver never sees an infinity (error feedback,
/// when on, keeps the clipped part).</summary>
public sealed class Fp16ReferenceKernel : IValueKernel
{
    /// <summary>Largest finite half.</summary>
    public const float MaxHalf = 65504f;

    /// <inheritdoc />
    public ValueCodecOptions Options { get; } = new(ValueCodecKind.Fp16, 0, false);

    /// <inheritdoc />
    public int EncodedLength(int count) => checked(count * 2);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++)
        {
            Half half = (Half)Math.Clamp(source[i], -MaxHalf, MaxHalf);
            BinaryPrimitives.WriteHalfLittleEndian(destination.Slice(i * 2), half);
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < destination.Length; i++)
        {
            Half half = BinaryPrimitives.ReadHalfLittleEndian(source.Slice(i * 2));
            if (!Half.IsFinite(half))
            {
                throw KernelGuards.NonFinite(ValueCodecKind.Fp16, i);
            }

            destination[i] = (float)half;
        }
    }
}
