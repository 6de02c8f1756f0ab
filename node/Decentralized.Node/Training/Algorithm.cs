namespace Decentralized.Node.Training;

/// <summary>How replicas combine their work.</summary>
public enum Algorithm
{
    /// <summary>Synchronous data parallel: gradients averaged every step (the baseline).</summary>
    Ddp,
    /// <summary>DiLoCo: H local steps, then the averaged pseudo-gradient and an outer Nesterov step.</summary>
    DiLoCo,
    /// <summary>NoLoCo: H local steps, then an exchange within a random small group only.</summary>
    NoLoCo,
    /// <summary>SparseLoCo: H local steps, then the tile top-k of a decayed error-feedback accumulator in 2 bits, plain SGD outer step.</summary>
    SparseLoCo,
}

public static class AlgorithmNames
{
    public static Algorithm Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "ddp" => Algorithm.Ddp,
        "diloco" => Algorithm.DiLoCo,
        "noloco" => Algorithm.NoLoCo,
        "sparseloco" => Algorithm.SparseLoCo,
        _ => throw new ArgumentException($"unknown algorithm '{text}': use ddp, diloco, noloco or sparseloco"),
    };

    public static string Name(this Algorithm algorithm) => algorithm switch
    {
        Algorithm.Ddp => "ddp",
        Algorithm.DiLoCo => "diloco",
        Algorithm.SparseLoCo => "sparseloco",
        _ => "noloco",
    };
}
