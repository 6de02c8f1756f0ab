namespace Decentralized.Node.Training;

/// <summary>The inner (local) optimizer of every replica, DDP's included (ALGORITHMS.md, "Muon as the inner optimizer").</summary>
public enum InnerOptimizer
{
    /// <summary>AdamW on every parameter.</summary>
    AdamW,
    /// <summary>Keller Jordan's reference Muon on the blocks' matrices, AdamW on the rest.</summary>
    Muon,
    /// <summary>MuLoCo's Muon (from Microsoft Dion) on the blocks' matrices, AdamW on the rest.</summary>
    MuLoCo,
}

public static class InnerOptimizerNames
{
    public static InnerOptimizer Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "adamw" => InnerOptimizer.AdamW,
        "muon" => InnerOptimizer.Muon,
        "muloco" => InnerOptimizer.MuLoCo,
        _ => throw new ArgumentException($"unknown inner optimizer '{text}': use adamw, muon or muloco"),
    };

    public static string Name(this InnerOptimizer optimizer) => optimizer switch
    {
        InnerOptimizer.AdamW => "adamw",
        InnerOptimizer.Muon => "muon",
        _ => "muloco",
    };

    /// <summary>The Muon variant behind <paramref name="optimizer"/>; null for AdamW.</summary>
    public static MuonVariant? Variant(this InnerOptimizer optimizer) => optimizer switch
    {
        InnerOptimizer.Muon => MuonVariant.Keller,
        InnerOptimizer.MuLoCo => MuonVariant.MuLoCo,
        _ => null,
    };
}
