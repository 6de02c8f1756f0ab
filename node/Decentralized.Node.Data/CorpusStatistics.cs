namespace Decentralized.Node.Data;

/// <summary>Reference figures for judging a language model's loss on a token stream.</summary>
public static class CorpusStatistics
{
    /// <summary>
    /// Entropy of the unigram (single-token frequency) distribution in nats:
    /// H = -sum_v p(v) ln p(v). A model whose validation cross-entropy (also in nats) is not below
    /// this has learned nothing beyond token frequencies. Returns 0 for an empty stream.
    /// </summary>
    public static double UnigramEntropyNats(ReadOnlySpan<ushort> tokens)
    {
        if (tokens.IsEmpty)
        {
            return 0;
        }

        var counts = new long[65536];
        foreach (var token in tokens)
        {
            counts[token]++;
        }

        double total = tokens.Length;
        var entropy = 0.0;
        foreach (var count in counts)
        {
            if (count > 0)
            {
                var p = count / total;
                entropy -= p * Math.Log(p);
            }
        }

        return entropy;
    }

    /// <summary>The same entropy in bits (nats / ln 2).</summary>
    public static double UnigramEntropyBits(ReadOnlySpan<ushort> tokens) => UnigramEntropyNats(tokens) / Math.Log(2);
}
