using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>IEEE half (round to nearest even, saturating at ±65504) through
/// <see cref="TensorPrimitives"/>; identical to <see cref="Fp16ReferenceKernel"/>.</summary>
public sealed class Fp16Kernel : IValueKernel
{
    // Saturation needs a clamped copy; 1,024 floats keep it on the stack and in L1.
    private const int Piece = 1024;
    private readonly Fp16ReferenceKernel _fallback = new();

    /// <inheritdoc />
    public ValueCodecOptions Options => _fallback.Options;

    /// <inheritdoc />
    public int EncodedLength(int count) => _fallback.EncodedLength(count);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        if (!BitConverter.IsLittleEndian)
        {
            _fallback.Encode(source, destination, rounding);
            return;
        }

        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        Span<Half> output = MemoryMarshal.Cast<byte, Half>(destination[..(source.Length * 2)]);
        Span<float> clamped = stackalloc float[Piece];
        for (int start = 0; start < source.Length; start += Piece)
        {
            int length = Math.Min(Piece, source.Length - start);
            Span<float> piece = clamped[..length];
            TensorPrimitives.Min(source.Slice(start, length), Fp16ReferenceKernel.MaxHalf, piece);
            TensorPrimitives.Max(piece, -Fp16ReferenceKernel.MaxHalf, piece);
            TensorPrimitives.ConvertToHalf(piece, output.Slice(start, length));
        }
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!BitConverter.IsLittleEndian)
        {
            _fallback.Decode(source, destination);
            return;
        }

        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<byte, ushort>(source);
        int bad = FirstNonFinite(bits);
        if (bad >= 0)
        {
            throw KernelGuards.NonFinite(ValueCodecKind.Fp16, bad);
        }

        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FirstNonFinite(ReadOnlySpan<ushort> bits)
    {
        ref ushort x = ref MemoryMarshal.GetReference(bits);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ushort> exponent = Vector256.Create((ushort)0x7C00);
            for (; i + 16 <= bits.Length; i += 16)
            {
                Vector256<ushort> v = Vector256.LoadUnsafe(ref x, (nuint)i);
                if (Vector256.EqualsAny(v & exponent, exponent))
                {
                    break;
                }
            }
        }

        for (; i < bits.Length; i++)
        {
            if ((bits[i] & 0x7C00) == 0x7C00)
            {
                return i;
            }
        }

        return -1;
    }
}
