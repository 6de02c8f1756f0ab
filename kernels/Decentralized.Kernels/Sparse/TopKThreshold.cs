namespace Decentralized.Kernels;

/// <summary>Which elements top-k keeps, as a rule that can be applied chunk by chunk: every element
/// whose magnitude bits exceed <see cref="MagnitudeBits"/>, plus the first <see cref="TiesToTake"/>
/// elements (in index order) whose magnitude bits equal it. Comparing the IEEE bits of |x| as
/// unsigned integers orders finite magnitudes exactly, so fast and reference selections agree.</summary>
/// <param name="MagnitudeBits">Bits of the k-th largest |x|; <see cref="uint.MaxValue"/> keeps nothing.</param>
/// <param name="TiesToTake">How many elements with exactly that magnitude are kept.</param>
public readonly record struct TopKThreshold(uint MagnitudeBits, long TiesToTake)
{
    /// <summary>Keeps nothing (k = 0).</summary>
    public static TopKThreshold None { get; } = new(uint.MaxValue, 0);

    /// <summary>The bits compared for <paramref name="value"/>: those of |value|.</summary>
    public static uint MagnitudeOf(float value) => BitConverter.SingleToUInt32Bits(value) & 0x7FFFFFFFu;
}
