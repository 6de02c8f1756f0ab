namespace Decentralized.Node.Generation;

/// <summary>
/// Draws the next token from one position's logits: temperature, then top-k, then top-p (nucleus), then a seeded
/// draw. Pure C# over a float span, so it is the same on every device. Ties in the ranking go to the lower id.
/// </summary>
internal sealed class TokenSampler(GenerationOptions options)
{
    // Seeded System.Random: the same seed gives the same sequence on a given .NET version.
    private readonly Random _random = new(options.Seed);

    public int Next(ReadOnlySpan<float> logits)
    {
        if (options.Temperature == 0) return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var keys = logits.ToArray();
        Array.Sort(order, (a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));   // a total order: deterministic
        int keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        // Softmax over the kept tokens, shifted by the largest for stability (in double).
        var p = new double[keep];
        double max = keys[order[0]], sum = 0;
        for (int i = 0; i < keep; i++) sum += p[i] = Math.Exp((keys[order[i]] - max) / options.Temperature);
        double cumulative = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++)
        {
            cumulative += p[i] / sum;
            if (cumulative >= options.TopP) { nucleus = i + 1; break; }
        }
        double total = 0;
        for (int i = 0; i < nucleus; i++) total += p[i];
        double u = _random.NextDouble() * total;
        for (int i = 0; i < nucleus; i++)
        {
            u -= p[i];
            if (u < 0) return order[i];
        }
        return order[nucleus - 1];
    }

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
