using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

public sealed partial class Int4BlockKernel
{
    // Block size 64 (the default): the shared eight-blocks-per-step encoder; each 32-value half of a block
    // is one nibble group of 16 bytes.
    private int EncodeBlocks64(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding) =>
        Block64Encoder.Encode<NibbleCodes>(source, destination, blocks, rounding, Options, QMax);

    private readonly struct NibbleCodes : IBlock64CodeLayout
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(ref byte codes, int at, Vector256<byte> first, Vector256<byte> second)
        {
            NibbleGroup(first).StoreUnsafe(ref codes, (nuint)(at / 2));
            NibbleGroup(second).StoreUnsafe(ref codes, (nuint)(at / 2 + 16));
        }
    }

    // 32 codes in order to one 16-byte group: the first 16 in the low nibbles, the next 16 in the high
    // ones. A 16-bit shift moves each byte's low nibble up; the mask drops what crossed a byte.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> NibbleGroup(Vector256<byte> codes) =>
        (codes.GetLower() & Vector128.Create((byte)0x0F))
        | (Vector128.ShiftLeft(codes.GetUpper().AsUInt16(), 4).AsByte() & Vector128.Create((byte)0xF0));
}
