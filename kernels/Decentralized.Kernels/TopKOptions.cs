namespace Decentralized.Kernels;

/// <summary>The top-k stage: keep the k largest magnitudes of each tensor, either a fraction of its
/// elements or a fixed count.</summary>
/// <param name="Fraction">Fraction in (0, 1] of each tensor's elements to keep (k = ceil(f·n), at
/// least 1 for a non-empty tensor), or null when <paramref name="Count"/> is used.</param>
/// <param name="Count">Fixed number of elements to keep per tensor (capped at the tensor's length),
/// or null when <paramref name="Fraction"/> is used.</param>
public sealed record TopKOptions(double? Fraction, int? Count)
{
    /// <summary>How many elements of a tensor of <paramref name="length"/> elements are kept.</summary>
    public int KeptCount(int length)
    {
        if (length <= 0)
        {
            return 0;
        }

        if (Count is int count)
        {
            return Math.Min(count, length);
        }

        double wanted = Math.Ceiling(Fraction!.Value * length);
        return (int)Math.Clamp(wanted, 1, length);
    }
}
