using System.Buffers.Binary;

namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="Fp32Kernel"/>: little-endian IEEE float32.</summary>
public sealed class Fp32ReferenceKernel : IValueKernel
{
    /// <inheritdoc />
    public ValueCodecOptions Options { get; } = new(ValueCodecKind.Fp32, 0, false);

    /// <inheritdoc />
    public int EncodedLength(int count) => checked(count * 4);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(i * 4), source[i]);
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < destination.Length; i++)
        {
            float value = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(i * 4));
            if (!float.IsFinite(value))
            {
                throw KernelGuards.NonFinite(ValueCodecKind.Fp32, i);
            }

            destination[i] = value;
        }
    }
}
