namespace Decentralized.Node.Pipeline;

/// <summary>A part of a stage's weights that peers ask each other for (recovery and CheckFree+ replication).</summary>
public enum WeightPart : byte
{
    /// <summary>The decoder blocks: what CheckFree averages and CheckFree+ copies.</summary>
    Blocks = 0,
    /// <summary>The token embedding (stage 0 owns it).</summary>
    Embedding = 1,
    /// <summary>Final norm and output head (the last stage owns them).</summary>
    Head = 2,
    /// <summary>Stage 1's copy of the embedding (CheckFree+).</summary>
    EmbeddingBackup = 3,
    /// <summary>Stage S−2's copy of the final norm and head (CheckFree+).</summary>
    HeadBackup = 4,
}
