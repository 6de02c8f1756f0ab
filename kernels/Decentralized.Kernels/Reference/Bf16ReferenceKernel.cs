using System.Buffers.Binary;

namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="Bf16Kernel"/>: the upper 16 bits of the float32, rounded
/// to nearest even. Inputs below 2^100 cannot round up to infinity.</summary>
public sealed class Bf16ReferenceKernel : IValueKernel
{
    /// <inheritdoc />
    public ValueCodecOptions Options { get; } = new(ValueCodecKind.Bf16, 0, false);

    /// <inheritdoc />
    public int EncodedLength(int count) => checked(count * 2);

    /// <summary>fp32 → bf16 bits, round to nearest even (finite input).</summary>
    public static ushort ToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < source.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(i * 2), ToBf16(source[i]));
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        for (int i = 0; i < destination.Length; i++)
        {
            uint bits = (uint)BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2)) << 16;
            float value = BitConverter.UInt32BitsToSingle(bits);
            if (!float.IsFinite(value))
            {
                throw KernelGuards.NonFinite(ValueCodecKind.Bf16, i);
            }

            destination[i] = value;
        }
    }
}
