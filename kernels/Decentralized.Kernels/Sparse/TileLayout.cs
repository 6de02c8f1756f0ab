namespace Decentralized.Kernels;

/// <summary>
/// SparseLoCo's tiles over a model's tensors (one-covenant/templar, <c>compress.py</c>): a tensor of shape
/// (rows, cols...) is viewed as rows × (product of the rest) and cut into h × w tiles, h the largest divisor of rows
/// at most 64, w the largest divisor of cols at most 64. A 1-D tensor is one row, so it is cut into runs of the
/// largest divisor of its length at most 64. Every tile keeps its own top-k. No DCT (the reference's option, off in
/// production).
/// </summary>
public sealed class TileLayout
{
    /// <summary>A tile's side at most; 64 × 64 = 4096 positions fit the 12-bit in-tile index.</summary>
    public const int SideMax = 64;

    /// <summary>Positions in a tile at most.</summary>
    public const int TileSizeMax = SideMax * SideMax;

    private readonly TileTensor[] _tensors;

    private TileLayout(TileTensor[] tensors, long count)
    {
        _tensors = tensors;
        Count = count;
    }

    /// <summary>The tensors, in the flat vector's order.</summary>
    public IReadOnlyList<TileTensor> Tensors => _tensors;

    /// <summary>Elements of the whole flat vector.</summary>
    public long Count { get; }

    /// <summary>The tiles of tensors laid out back to back in one flat vector, in the order of <paramref name="shapes"/>.</summary>
    /// <exception cref="ArgumentException">A negative dimension, or a tensor over 2^31 − 1 elements.</exception>
    public static TileLayout Of(IReadOnlyList<int[]> shapes)
    {
        var tensors = new TileTensor[shapes.Count];
        long offset = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            int[] shape = shapes[i];
            if (shape.Any(d => d < 0)) throw new ArgumentException($"tensor {i} has a negative dimension");
            int rows = shape.Length >= 2 ? shape[0] : 1;
            long cols = 1;
            for (int d = shape.Length >= 2 ? 1 : 0; d < shape.Length; d++) cols *= shape[d];
            if ((long)rows * cols > int.MaxValue) throw new ArgumentException($"tensor {i} has more than 2^31 - 1 elements");
            tensors[i] = new TileTensor(offset, rows, (int)cols, LargestDivisorAtMost(rows, SideMax), LargestDivisorAtMost((int)cols, SideMax));
            offset += (long)rows * cols;
        }

        return new TileLayout(tensors, offset);
    }

    /// <summary>
    /// Positions a tile of <paramref name="tileSize"/> keeps for a requested <paramref name="k"/>: k clamped to
    /// [2, tile size] and even (production's rule), and the whole tile when it has fewer than 2 positions or k reaches it.
    /// </summary>
    public static int KeptPerTile(int k, int tileSize)
    {
        if (k >= tileSize) return tileSize;
        return Math.Max(2, k & ~1);
    }

    /// <summary>The largest divisor of <paramref name="n"/> at most <paramref name="max"/> (1 for n = 0).</summary>
    public static int LargestDivisorAtMost(int n, int max)
    {
        for (int d = Math.Min(n, max); d > 1; d--)
        {
            if (n % d == 0) return d;
        }

        return 1;
    }
}
