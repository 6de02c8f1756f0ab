using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Decentralized.Kernels;

public sealed partial class Int8BlockKernel
{
    // Block size 64 (the default): the shared eight-blocks-per-step encoder, one code byte per value.
    private int EncodeBlocks64(ReadOnlySpan<float> source, Span<byte> destination, int blocks, RoundingContext rounding) =>
        Block64Encoder.Encode<ByteCodes>(source, destination, blocks, rounding, Options, QMax);

    private readonly struct ByteCodes : IBlock64CodeLayout
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(ref byte codes, int at, Vector256<byte> first, Vector256<byte> second)
        {
            first.StoreUnsafe(ref codes, (nuint)at);
            second.StoreUnsafe(ref codes, (nuint)(at + 32));
        }
    }
}
