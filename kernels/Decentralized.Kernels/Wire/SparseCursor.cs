namespace Decentralized.Kernels;

/// <summary>Top-k state carried from chunk to chunk of one tensor.</summary>
internal struct SparseCursor
{
    public TopKThreshold Threshold;
    public long TiesLeft;

    public SparseCursor(TopKThreshold threshold)
    {
        Threshold = threshold;
        TiesLeft = threshold.TiesToTake;
    }
}
