namespace Decentralized.Node.Data;

/// <summary>
/// Stateless 64-bit mixing (SplitMix64's finaliser, Steele et al. 2014) used wherever the pipeline
/// needs a reproducible pseudo-random decision from numbers: which chunk is validation, which
/// replica owns a chunk, the window order of an epoch. Same inputs give the same bits on every
/// machine and .NET version, which <see cref="System.Random"/> does not promise.
/// </summary>
internal static class Hash64
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>Bijective avalanche of one 64-bit word.</summary>
    public static ulong Mix(ulong z)
    {
        z += Golden;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Order-dependent combination: Combine(a, b) differs from Combine(b, a).</summary>
    public static ulong Combine(ulong a, ulong b) => Mix(Mix(a) ^ b);

    /// <summary>Combination of three words.</summary>
    public static ulong Combine(ulong a, ulong b, ulong c) => Combine(Combine(a, b), c);

    /// <summary>
    /// A string's hash, the same on every machine (FNV-1a over its UTF-16 code units, then <see cref="Mix"/>);
    /// string.GetHashCode is randomised per process, so peers would disagree.
    /// </summary>
    public static ulong OfText(ReadOnlySpan<char> text)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var c in text)
        {
            h = (h ^ c) * 0x100000001B3UL;
        }

        return Mix(h);
    }

    /// <summary>Maps a hash to a double uniform in [0, 1) using its top 53 bits.</summary>
    public static double ToUnit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));
}
