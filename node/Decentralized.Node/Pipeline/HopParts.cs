namespace Decentralized.Node.Pipeline;

/// <summary>Which parts of its stage a peer runs for one hop of a microbatch.</summary>
[Flags]
public enum HopParts : byte
{
    None = 0,
    /// <summary>Token embedding (first stage only): tokens in, hidden states out.</summary>
    Embed = 1,
    /// <summary>The stage's decoder blocks.</summary>
    Blocks = 2,
    /// <summary>Final norm, head and the loss (last stage only): the hop that turns around.</summary>
    Head = 4,
}
