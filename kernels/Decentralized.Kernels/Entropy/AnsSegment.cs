namespace Decentralized.Kernels.Entropy;

/// <summary>A run of a raw chunk coded as one unit: <see cref="Lanes"/> interleaved byte planes (1 for
/// codes, 2 for bf16/fp16 values or scales, 4 for fp32 ones), or one lane of nibbles (4-bit codes).</summary>
internal readonly record struct AnsSegment(int Offset, int Length, int Lanes, bool Nibbles)
{
    /// <summary>Lane <paramref name="k"/>: raw bytes Offset + k, Offset + k + Lanes, ...; or all the
    /// nibbles of the segment.</summary>
    public Lane Lane(int k) => Nibbles
        ? new Lane(Offset, 1, 2 * Length, true)
        : new Lane(Offset + k, Lanes, (Length - k + Lanes - 1) / Lanes, false);
}
