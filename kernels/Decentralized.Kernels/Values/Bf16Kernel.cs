using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels;

/// <summary>bfloat16 (round to nearest even), vectorised; identical to <see cref="Bf16ReferenceKernel"/>.</summary>
public sealed class Bf16Kernel : IValueKernel
{
    private readonly Bf16ReferenceKernel _fallback = new();

    /// <inheritdoc />
    public ValueCodecOptions Options => _fallback.Options;

    /// <inheritdoc />
    public int EncodedLength(int count) => _fallback.EncodedLength(count);

    private static bool Accelerated => Vector256.IsHardwareAccelerated && BitConverter.IsLittleEndian;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Encode(ReadOnlySpan<float> source, Span<byte> destination, RoundingContext rounding)
    {
        if (!Accelerated)
        {
            _fallback.Encode(source, destination, rounding);
            return;
        }

        KernelGuards.EncodeLengths(this, source.Length, destination.Length);
        ref uint x = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<float, uint>(source));
        Span<ushort> output = MemoryMarshal.Cast<byte, ushort>(destination[..(source.Length * 2)]);
        ref ushort y = ref MemoryMarshal.GetReference(output);
        Vector256<uint> bias = Vector256.Create(0x7FFFu);
        Vector256<uint> one = Vector256.Create(1u);
        int i = 0;
        for (; i + 16 <= source.Length; i += 16)
        {
            Vector256<uint> a = Vector256.LoadUnsafe(ref x, (nuint)i);
            Vector256<uint> b = Vector256.LoadUnsafe(ref x, (nuint)(i + 8));
            a = Vector256.ShiftRightLogical(a + bias + (Vector256.ShiftRightLogical(a, 16) & one), 16);
            b = Vector256.ShiftRightLogical(b + bias + (Vector256.ShiftRightLogical(b, 16) & one), 16);
            Vector256.Narrow(a, b).StoreUnsafe(ref y, (nuint)i);
        }

        for (; i < source.Length; i++)
        {
            output[i] = Bf16ReferenceKernel.ToBf16(source[i]);
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Accelerated)
        {
            _fallback.Decode(source, destination);
            return;
        }

        KernelGuards.DecodeLengths(this, source.Length, destination.Length);
        ReadOnlySpan<ushort> input = MemoryMarshal.Cast<byte, ushort>(source);
        ref ushort x = ref MemoryMarshal.GetReference(input);
        Span<uint> output = MemoryMarshal.Cast<float, uint>(destination);
        ref uint y = ref MemoryMarshal.GetReference(output);
        Vector256<ushort> exponent = Vector256.Create((ushort)0x7F80);
        Vector256<ushort> bad = Vector256<ushort>.Zero;
        int i = 0;
        for (; i + 16 <= input.Length; i += 16)
        {
            Vector256<ushort> v = Vector256.LoadUnsafe(ref x, (nuint)i);
            bad |= Vector256.Equals(v & exponent, exponent);
            (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(v);
            Vector256.ShiftLeft(lower, 16).StoreUnsafe(ref y, (nuint)i);
            Vector256.ShiftLeft(upper, 16).StoreUnsafe(ref y, (nuint)(i + 8));
        }

        for (; i < input.Length; i++)
        {
            if ((input[i] & 0x7F80) == 0x7F80)
            {
                throw KernelGuards.NonFinite(ValueCodecKind.Bf16, i);
            }

            output[i] = (uint)input[i] << 16;
        }

        if (bad != Vector256<ushort>.Zero)
        {
            int at = 0;
            while ((input[at] & 0x7F80) != 0x7F80)
            {
                at++;
            }

            throw KernelGuards.NonFinite(ValueCodecKind.Bf16, at);
        }
    }
}
