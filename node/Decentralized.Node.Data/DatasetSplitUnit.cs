namespace Decentralized.Node.Data;

/// <summary>What the train/validation split holds out.</summary>
public enum DatasetSplitUnit
{
    /// <summary>
    /// Whole documents (<see cref="CorpusDocument.Unit"/>), and validation lines that also occur in training are
    /// dropped: the validation loss measures text the model has not seen.
    /// </summary>
    Document,

    /// <summary>
    /// Chunks of one token stream drawn at random: validation chunks come from the same documents as training ones
    /// (on the embedded corpus 42.7% of validation line bytes also occur in training). Kept to re-score old results.
    /// </summary>
    Chunk,
}
