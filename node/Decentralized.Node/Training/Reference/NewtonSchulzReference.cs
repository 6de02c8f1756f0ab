namespace Decentralized.Node.Training.Reference;

/// <summary>
/// The obviously-correct twin of <see cref="NewtonSchulz"/>: the same iteration in double-precision loops over a
/// row-major float array, for the property test that checks the fast TorchSharp version against it.
/// </summary>
public static class NewtonSchulzReference
{
    /// <summary>Orthogonalises the row-major (<paramref name="rows"/>, <paramref name="cols"/>) matrix <paramref name="g"/>.</summary>
    public static float[] Orthogonalize(float[] g, int rows, int cols, IReadOnlyList<(double A, double B, double C)> coefficients, double epsilon)
    {
        if (g.Length != (long)rows * cols) throw new ArgumentException($"{g.Length} values for a {rows}x{cols} matrix");
        bool tall = rows > cols;
        int m = tall ? cols : rows, n = tall ? rows : cols;
        var x = new double[m, n];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                if (tall) x[j, i] = g[i * cols + j]; else x[i, j] = g[i * cols + j];
        double norm = 0;
        foreach (double v in x) norm += v * v;
        double scale = 1 / (Math.Sqrt(norm) + epsilon);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) x[i, j] *= scale;
        foreach (var (a, b, c) in coefficients) x = Step(x, a, b, c);
        var result = new float[g.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                result[i * cols + j] = (float)(tall ? x[j, i] : x[i, j]);
        return result;
    }

    // X ← aX + (bA + cA²)X with A = XXᵀ.
    private static double[,] Step(double[,] x, double a, double b, double c)
    {
        int m = x.GetLength(0), n = x.GetLength(1);
        var gram = Multiply(x, Transpose(x));
        var square = Multiply(gram, gram);
        var poly = new double[m, m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++) poly[i, j] = b * gram[i, j] + c * square[i, j];
        var px = Multiply(poly, x);
        var next = new double[m, n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) next[i, j] = a * x[i, j] + px[i, j];
        return next;
    }

    private static double[,] Transpose(double[,] x)
    {
        var t = new double[x.GetLength(1), x.GetLength(0)];
        for (int i = 0; i < x.GetLength(0); i++)
            for (int j = 0; j < x.GetLength(1); j++) t[j, i] = x[i, j];
        return t;
    }

    private static double[,] Multiply(double[,] p, double[,] q)
    {
        int rows = p.GetLength(0), inner = p.GetLength(1), cols = q.GetLength(1);
        var r = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < inner; k++)
            {
                double v = p[i, k];
                for (int j = 0; j < cols; j++) r[i, j] += v * q[k, j];
            }
        return r;
    }
}
