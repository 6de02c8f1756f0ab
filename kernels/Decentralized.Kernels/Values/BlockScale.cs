using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

/// <summary>The per-block rule shared by the quantizers and their references (ALGORITHMS.md,
/// "blockwise absmax quantization"): s = max|x| / q_max stored as fp32, and the codes are
/// round(x · (q_max / max|x|)) clamped to [−q_max, q_max]. Multiplying by the reciprocal rather than
/// dividing by s differs from x / s by at most one ulp, which can only move an exact .5 tie.
/// With bf16 scales (<see cref="BlockScaleFormat.Bf16"/>) s is max|x| / q_max rounded up to bfloat16
/// and the codes are round(x · (1 / s)), so |code| ≤ q_max still holds before the clamp.</summary>
public static class BlockScale
{
    /// <summary>Largest scale a decoder accepts; any code times it stays finite.</summary>
    public const float MaxScale = ValueRange.MaxMagnitude;

    /// <summary>Scale and reciprocal for a block whose largest magnitude is <paramref name="absMax"/>.
    /// A block below <see cref="ValueRange.MinBlockMagnitude"/> (zeros included) gets scale 0 and
    /// reciprocal 0, so it encodes to zero codes and decodes to zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Compute(float absMax, float qMax, out float scale, out float inverse)
    {
        if (absMax < ValueRange.MinBlockMagnitude)
        {
            scale = 0f;
            inverse = 0f;
            return;
        }

        scale = absMax / qMax;
        inverse = qMax / absMax;
    }

    /// <summary>Scale (as it will be decoded) and reciprocal for a block stored in <paramref name="format"/>.
    /// Fp32 is <see cref="Compute(float, float, out float, out float)"/>; bf16 rounds max|x| / q_max up to
    /// the next bfloat16 (never down, so the block's largest value still maps inside ±q_max) and codes
    /// against the rounded scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Compute(float absMax, float qMax, BlockScaleFormat format, out float scale, out float inverse)
    {
        if (format == BlockScaleFormat.Fp32 || absMax < ValueRange.MinBlockMagnitude)
        {
            Compute(absMax, qMax, out scale, out inverse);
            return;
        }

        // absMax / qMax lies in [2^-103, 2^100 / 7): rounding it up stays a normal bf16 at most 2^100.
        scale = RoundUpToBf16(absMax / qMax);
        inverse = 1f / scale;
    }

    /// <summary><see cref="Compute(float, float, BlockScaleFormat, out float, out float)"/> for eight
    /// blocks at once: the same IEEE divisions lane by lane, so the results are bit-identical.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Compute(Vector256<float> absMax, float qMax, BlockScaleFormat format, out Vector256<float> scale, out Vector256<float> inverse)
    {
        Vector256<float> q = Vector256.Create(qMax);
        Vector256<float> zero = Vector256.LessThan(absMax, Vector256.Create(ValueRange.MinBlockMagnitude));
        if (format == BlockScaleFormat.Fp32)
        {
            scale = absMax / q;
            inverse = q / absMax;
        }
        else
        {
            Vector256<uint> bits = ((absMax / q).AsUInt32() + Vector256.Create(0xFFFFu)) & Vector256.Create(0xFFFF0000u);
            scale = bits.AsSingle();
            inverse = Vector256.Create(1f) / scale;
        }

        scale = Vector256.AndNot(scale, zero);
        inverse = Vector256.AndNot(inverse, zero);
    }

    /// <summary>Writes the scales of blocks <paramref name="block"/> .. +7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> scales, int block, Vector256<float> scale, BlockScaleFormat format)
    {
        if (format == BlockScaleFormat.Bf16)
        {
            Vector256<uint> upper = Vector256.ShiftRightLogical(scale.AsUInt32(), 16);
            Vector256.Narrow(upper, upper).GetLower().AsByte().CopyTo(scales.Slice(block * 2, 16));
        }
        else
        {
            scale.AsByte().CopyTo(scales.Slice(block * 4, 32));
        }
    }

    /// <summary>The smallest bfloat16 at or above a finite <paramref name="positive"/> value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundUpToBf16(float positive)
    {
        uint bits = BitConverter.SingleToUInt32Bits(positive);
        bits = (bits + 0xFFFFu) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>Writes block <paramref name="block"/>'s scale into the scale area <paramref name="scales"/>
    /// (little-endian fp32, or the upper half of the fp32 bits for bf16: exact, the scale is a bf16 value).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(Span<byte> scales, int block, float scale, BlockScaleFormat format)
    {
        if (format == BlockScaleFormat.Bf16)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(scales.Slice(block * 2), (ushort)(BitConverter.SingleToUInt32Bits(scale) >> 16));
        }
        else
        {
            BinaryPrimitives.WriteSingleLittleEndian(scales.Slice(block * 4), scale);
        }
    }

    /// <summary>Reads block <paramref name="block"/>'s scale from the scale area (not yet validated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(ReadOnlySpan<byte> scales, int block, BlockScaleFormat format) => format == BlockScaleFormat.Bf16
        ? BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(scales.Slice(block * 2)) << 16)
        : BinaryPrimitives.ReadSingleLittleEndian(scales.Slice(block * 4));

    /// <summary>Round-to-nearest-even code of one value (the deterministic rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RoundNearest(float x, float inverse, float qMax) =>
        (int)Math.Clamp(MathF.Round(x * inverse, MidpointRounding.ToEven), -qMax, qMax);

    /// <summary>Stochastic code: floor(x·inv + u), u uniform in [0, 1), so E[code] = x·inv.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RoundStochastic(float x, float inverse, float qMax, float uniform) =>
        (int)Math.Clamp(MathF.Floor(x * inverse + uniform), -qMax, qMax);

    /// <summary>True when a scale read from the wire is one an encoder can produce (finite, ≥ 0,
    /// at most <see cref="MaxScale"/>); NaN fails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValidScale(float scale) => scale >= 0f && scale <= MaxScale;

    /// <summary>Number of blocks covering <paramref name="count"/> values.</summary>
    public static int BlockCount(int count, int blockSize) => (int)(((long)count + blockSize - 1) / blockSize);
}
