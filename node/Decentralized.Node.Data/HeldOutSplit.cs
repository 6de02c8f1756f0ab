namespace Decentralized.Node.Data;

/// <summary>
/// The seeded rule of the document split: unit u is held out when hash(split seed, u) &lt; validation fraction. It reads
/// nothing but the unit's name, so every replica, daemon and joiner derives the same split from the seed whatever the
/// replica count, and a corpus streams through it without a first pass.
/// </summary>
public static class HeldOutSplit
{
    private const ulong HoldOutDomain = 0x484F4C444F5554UL; // "HOLDOUT"

    /// <summary>True when the unit named <paramref name="unit"/> is validation text under <paramref name="options"/>.</summary>
    public static bool IsValidation(string unit, DatasetSplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(unit);
        var draw = Hash64.Combine(HoldOutDomain, (ulong)options.SplitSeed, Hash64.OfText(unit));
        return Hash64.ToUnit(draw) < options.ValidationFraction;
    }
}
