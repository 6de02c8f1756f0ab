namespace Decentralized.Kernels;

/// <summary>Receives each raw chunk of a tensor as the pipeline produces it.</summary>
internal interface IChunkSink
{
    /// <summary>Raw bytes of chunk <paramref name="chunk"/>, covering elements
    /// [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    void Accept(long chunk, int rawLength, int start, int count);
}
