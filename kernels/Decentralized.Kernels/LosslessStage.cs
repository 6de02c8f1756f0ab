namespace Decentralized.Kernels;

/// <summary>The optional lossless last stage of a chain, applied to each chunk's packed bytes. A chunk
/// is stored as is when the stage does not make it smaller, so it never costs more than its 17-byte
/// chunk header.</summary>
public enum LosslessStage
{
    /// <summary>Chunks are sent as the value codec packed them.</summary>
    None = 0,

    /// <summary>LZ4 (chain name <c>lz4</c>): fast, finds repeated byte strings; little to find in
    /// quantized noise.</summary>
    Lz4 = 1,

    /// <summary>Static rANS entropy coding (chain name <c>ans</c>): each byte plane, scale plane and the
    /// 4-bit codes of a chunk get their own frequency table, so the bell-shaped code distribution of a
    /// quantized pseudo-gradient costs its entropy instead of its width (format in Entropy/AnsChunkCodec.cs).</summary>
    Ans = 2,
}
