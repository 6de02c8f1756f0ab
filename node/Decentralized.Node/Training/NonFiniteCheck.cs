using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Finds where a diverged run went wrong: the first parameter (in the model's own order) holding a NaN or ±Inf, or the
/// parameter a flat vector's first non-finite value belongs to. One reduction per tensor; cheap next to a training step.
/// </summary>
public static class NonFiniteCheck
{
    /// <summary>The name of the first parameter with a non-finite value, or null when every weight is finite.</summary>
    public static string? FirstParameter(FlatParameters flat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < flat.Parameters.Count; i++)
            if (!isfinite(flat.Parameters[i]).all().item<bool>()) return flat.Names[i];
        return null;
    }

    /// <summary>The parameter whose slice of the flat <paramref name="vector"/> (laid out as <paramref name="layout"/>) holds its first non-finite value, or null.</summary>
    public static string? FirstInVector(Tensor vector, FlatParameters layout)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var bad = logical_not(isfinite(vector));
        if (!bad.any().item<bool>()) return null;
        long index = bad.to_type(ScalarType.Int8).argmax().item<long>();   // argmax returns the first maximum
        int i = layout.Offsets.Count - 1;
        while (i > 0 && layout.Offsets[i] > index) i--;
        return layout.Names[i];
    }

    /// <summary>The parameter with the largest magnitude and that magnitude: where a loss went non-finite while every weight still was.</summary>
    public static (string Name, double MaxAbs) LargestParameter(FlatParameters flat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Enumerable.Range(0, flat.Parameters.Count)
            .Select(i => (flat.Names[i], flat.Parameters[i].abs().max().to_type(ScalarType.Float64).item<double>()))
            .MaxBy(p => p.Item2);
    }
}
