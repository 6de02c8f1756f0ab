namespace Decentralized.Node.Data;

/// <summary>
/// A tiny seeded generator whose whole state is one <see cref="ulong"/>, so it can be written into
/// a checkpoint and restored exactly. Quality is ample for shuffling; it is not for cryptography.
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed)
    {
        _state = seed;
    }

    /// <summary>The full generator state.</summary>
    public readonly ulong State => _state;

    /// <summary>Next 64 random bits.</summary>
    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        var z = _state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, n) without modulo bias (rejection of the short last bucket).</summary>
    public ulong NextBelow(ulong n)
    {
        if (n == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        }

        var limit = ulong.MaxValue - (ulong.MaxValue % n);
        ulong x;
        do
        {
            x = Next();
        }
        while (x >= limit);
        return x % n;
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = (int)NextBelow((ulong)i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
