namespace Decentralized.Node.Training;

/// <summary>A replica's stream of training micro-batches, resumable from a saved position.</summary>
public interface IBatchSource
{
    /// <summary>Fills B × (T + 1) token ids, row-major.</summary>
    void Next(long[] buffer);

    /// <summary>The position in the stream as plain numbers, for checkpoints.</summary>
    long[] SaveState();

    /// <summary>Continues exactly where <see cref="SaveState"/> left off.</summary>
    void RestoreState(long[] state);
}
