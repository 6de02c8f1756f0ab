namespace Decentralized.Kernels;

/// <summary>How a SparseLoCo blob codes the in-tile positions of the kept values (the wire value is the number).</summary>
public enum SparseIndexCoding : byte
{
    /// <summary>Templar's form: every position in 12 bits (64 × 64 = 4096 positions).</summary>
    Fixed12 = 0,
    /// <summary>
    /// The sorted positions' gaps in a Rice code whose parameter follows from the tile (b = ⌊log2(tile / k)⌋): about
    /// 7.6 bits per position at k = 64 of 4096, near the floor log2 C(4096, 64) / 64 ≈ 7.4. No tables, no side information.
    /// </summary>
    Rice = 1,
}
