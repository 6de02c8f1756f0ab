namespace Decentralized.Node.Training;

/// <summary>
/// What differs between the two Muon references (ALGORITHMS.md, "Muon as the inner optimizer"): the Newton–Schulz
/// coefficients, the momentum form, the normalising epsilon, the shape scaling of the rate and the default rate.
/// Both decay decoupled as W ← (1 − lr·λ)·W with the unscaled rate, and both use μ = 0.95.
/// </summary>
public sealed record MuonVariant
{
    /// <summary>
    /// KellerJordan/Muon: m ← β·m + (1−β)·g, Nesterov u ← (1−β)·g + β·m; five steps of (3.4445, −4.7750, 2.0315);
    /// X ← u/(‖u‖_F + 1e-7); update lr·√max(1, rows/cols)·X; rate 0.02 (the reference's default).
    /// </summary>
    public static readonly MuonVariant Keller = new()
    {
        Name = "muon",
        Coefficients = Enumerable.Repeat((3.4445, -4.7750, 2.0315), 5).ToArray(),
        Nesterov = true,
        Epsilon = 1e-7,
        DefaultLearningRate = 0.02,
        ShapeScale = (rows, cols) => Math.Sqrt(Math.Max(1.0, (double)rows / cols)),
    };

    /// <summary>
    /// facebookresearch/MuLoCo, whose Muon is Microsoft Dion's: m ← μ·m + g, no Nesterov; five distinct triples;
    /// X ← u/(‖u‖_F + 1e-8); update lr·√(fan_out/fan_in)·X; rate 0.01 (Dion's default).
    /// </summary>
    public static readonly MuonVariant MuLoCo = new()
    {
        Name = "muloco",
        Coefficients =
        [
            (4.0848, -6.8946, 2.9270), (3.9505, -6.3029, 2.6377), (3.7418, -5.5913, 2.3037),
            (2.8769, -3.1427, 1.2046), (2.8366, -3.0525, 1.2012),
        ],
        Nesterov = false,
        Epsilon = 1e-8,
        DefaultLearningRate = 0.01,
        ShapeScale = (rows, cols) => Math.Sqrt((double)rows / cols),
    };

    public required string Name { get; init; }

    /// <summary>(a, b, c) of each Newton–Schulz step X ← aX + (bA + cA²)X, A = XXᵀ.</summary>
    public required IReadOnlyList<(double A, double B, double C)> Coefficients { get; init; }

    /// <summary>Keller's Nesterov form with an EMA momentum; otherwise MuLoCo's plain accumulated momentum.</summary>
    public required bool Nesterov { get; init; }

    /// <summary>Added to the Frobenius norm before dividing (keeps a zero gradient a zero update).</summary>
    public required double Epsilon { get; init; }

    public required double DefaultLearningRate { get; init; }

    /// <summary>Rate multiplier for a (rows = fan_out) × (cols = fan_in) matrix.</summary>
    public required Func<long, long, double> ShapeScale { get; init; }
}
