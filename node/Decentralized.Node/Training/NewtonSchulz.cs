using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Muon's orthogonalisation: the quintic Newton–Schulz iteration that maps a matrix G = UΣVᵀ to about UVᵀ, every
/// singular value pushed into a band around 1 (KellerJordan/Muon, <c>zeropower_via_newtonschulz5</c>). The references
/// run it in bfloat16; this runs in the input's precision (float32 here), which keeps resumes and the reference twin
/// (<see cref="Reference.NewtonSchulzReference"/>) exact to float rounding, at about 2x the matmul cost on a GPU.
/// </summary>
public static class NewtonSchulz
{
    /// <summary>A new (rows, cols) tensor: <paramref name="g"/> orthogonalised with the given coefficients.</summary>
    public static Tensor Orthogonalize(Tensor g, IReadOnlyList<(double A, double B, double C)> coefficients, double epsilon)
    {
        if (g.dim() != 2) throw new ArgumentException($"Newton-Schulz needs a matrix, got {g.dim()} dimensions");
        using var scope = NewDisposeScope();
        // Work on the wide orientation so A = XXᵀ is the smaller Gram matrix: min(r,c)² instead of max(r,c)².
        bool tall = g.shape[0] > g.shape[1];
        var x = tall ? g.t() : g;                                   // (m, n), m ≤ n
        x = x / (x.norm() + epsilon);                               // ‖X‖₂ ≤ ‖X‖_F = 1: inside the iteration's basin
        foreach (var (a, b, c) in coefficients)
        {
            var gram = x.matmul(x.t());                             // A = XXᵀ (m, m)
            var poly = addmm(gram, gram, gram, beta: (float)b, alpha: (float)c);  // B = bA + cA²
            x = addmm(x, poly, x, beta: (float)a, alpha: 1);        // X ← aX + BX
        }
        return (tall ? x.t() : x).contiguous().MoveToOuterDisposeScope();
    }
}
