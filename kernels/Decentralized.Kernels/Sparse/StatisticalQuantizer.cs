namespace Decentralized.Kernels;

/// <summary>
/// SparseLoCo's 2-bit statistical quantizer over one tensor's kept values (templar <c>compress.py</c>):
/// <code>
///   μ = mean(v);  c = v − μ;  σ = ‖c‖ / √(n − 1);  scale = 1.5σ
///   q = clamp(round(c / scale + 2), 0, 3)        bin edges at −2.25σ, −0.75σ, +0.75σ (asymmetric, as theirs)
///   lookup[q] = mean of the c in bin q (0 when empty);  decoded = μ + lookup[q]
/// </code>
/// Sums run in double in value order, so the reference twin gets the same bits. With fewer than two values or σ = 0
/// every value goes to bin 2, whose mean is then exact.
/// </summary>
public static class StatisticalQuantizer
{
    /// <summary>Codes of <paramref name="values"/> into <paramref name="codes"/> (one byte each, 0-3); returns μ and fills the 4-entry lookup.</summary>
    public static float Quantize(ReadOnlySpan<float> values, Span<byte> codes, Span<float> lookup)
    {
        int n = values.Length;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += values[i];
        float mu = n == 0 ? 0f : (float)(sum / n);
        double squares = 0;
        for (int i = 0; i < n; i++)
        {
            double c = values[i] - mu;
            squares += c * c;
        }

        float scale = n < 2 ? 0f : (float)(1.5 * Math.Sqrt(squares / (n - 1)));
        Span<double> binSum = stackalloc double[4];
        Span<int> binCount = stackalloc int[4];
        binSum.Clear();
        binCount.Clear();
        for (int i = 0; i < n; i++)
        {
            float c = values[i] - mu;
            int q = scale > 0 && float.IsFinite(c / scale) ? (int)Math.Clamp(MathF.Round(c / scale + 2f), 0f, 3f) : 2;
            codes[i] = (byte)q;
            binSum[q] += c;
            binCount[q]++;
        }

        for (int q = 0; q < 4; q++) lookup[q] = binCount[q] == 0 ? 0f : (float)(binSum[q] / binCount[q]);
        return mu;
    }
}
