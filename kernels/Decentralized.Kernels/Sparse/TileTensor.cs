namespace Decentralized.Kernels;

/// <summary>One tensor of a <see cref="TileLayout"/>: where it starts in the flat vector, its 2-D view and its tile.</summary>
public readonly record struct TileTensor(long Offset, int Rows, int Cols, int TileRows, int TileCols)
{
    /// <summary>Elements of the tensor.</summary>
    public int Elements => Rows * Cols;

    /// <summary>Positions of one tile.</summary>
    public int TileSize => TileRows * TileCols;

    /// <summary>Tiles across the columns.</summary>
    public int TilesAcross => TileCols == 0 ? 0 : Cols / TileCols;

    /// <summary>Tiles of the tensor (0 when it is empty).</summary>
    public int TileCount => Elements == 0 ? 0 : Rows / TileRows * TilesAcross;

    /// <summary>Positions kept per tile for a requested <paramref name="k"/>.</summary>
    public int KeptPerTile(int k) => TileLayout.KeptPerTile(k, TileSize);

    /// <summary>Values the tensor sends for a requested <paramref name="k"/>.</summary>
    public int Selected(int k) => TileCount * KeptPerTile(k);

    /// <summary>The flat offset (from the tensor's start) of in-tile position <paramref name="position"/> of tile <paramref name="tile"/>.</summary>
    public int FlatIndex(int tile, int position)
    {
        int tileRow = tile / TilesAcross, tileCol = tile % TilesAcross;
        int r = position / TileCols, c = position % TileCols;
        return (tileRow * TileRows + r) * Cols + tileCol * TileCols + c;
    }
}
