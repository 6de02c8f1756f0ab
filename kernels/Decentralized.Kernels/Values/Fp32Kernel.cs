using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>Little-endian float32 as is; decoding checks finiteness while it copies.</summary>
public sealed class Fp32Kernel : IValueKernel
{
    private readonly Fp32ReferenceKernel _fallback = new();

    /// <inheritdoc />
    public ValueCodecOptions Options => _fallback.Options;

    /// <inheritdoc />
    public int EncodedLength(int count) => _fallback.EncodedLength(count);

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        if (!BitConverter.IsLittleEndian)
        {
            _fallback.Encode(source, destination, rounding);
            return;
        }

        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        MemoryMarshal.AsBytes(source).CopyTo(destination);
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!BitConverter.IsLittleEndian || !Vector256.IsHardwareAccelerated)
        {
            _fallback.Decode(source, destination);
            return;
        }

        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<byte, uint>(source);
        Span<uint> output = MemoryMarshal.Cast<float, uint>(destination);
        ref uint from = ref MemoryMarshal.GetReference(bits);
        ref uint to = ref MemoryMarshal.GetReference(output);
        Vector256<uint> exponent = Vector256.Create(0x7F800000u);
        Vector256<uint> bad = Vector256<uint>.Zero;
        int i = 0;
        for (; i + 8 <= bits.Length; i += 8)
        {
            Vector256<uint> v = Vector256.LoadUnsafe(ref from, (nuint)i);
            bad |= Vector256.Equals(v & exponent, exponent);
            v.StoreUnsafe(ref to, (nuint)i);
        }

        for (; i < bits.Length; i++)
        {
            output[i] = bits[i];
            if ((bits[i] & 0x7F800000u) == 0x7F800000u)
            {
                bad = Vector256<uint>.AllBitsSet;
            }
        }

        if (bad != Vector256<uint>.Zero)
        {
            throw KernelGuards.NonFinite(ValueCodecKind.Fp32, FirstNonFinite(destination));
        }
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
