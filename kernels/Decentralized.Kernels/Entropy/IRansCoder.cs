namespace Decentralized.Kernels.Entropy;

/// <summary>Static 4-way interleaved rANS over one <see cref="Lane"/> (32-bit states, 16-bit
/// renormalisation, 12-bit probabilities): the fast <see cref="RansCoder"/> and its scalar reference
/// produce identical streams and decode each other's.
/// <code>
/// stream: +-----------------------+-------------------------------------------+
///         | state u32 x 4 (LE)    | word u16 (LE) x (length - 16) / 2         |
///         +-----------------------+-------------------------------------------+
/// symbol i uses state i % 4. The encoder runs from the last symbol to the first, starting each state
/// at L = 2^16; before coding symbol s with frequency f it emits the low 16 bits of x while
/// x ≥ f · 2^20 (at most once), then x = (x / f) · 2^12 + x % f + start[s]. The words are stored in
/// the reverse of their emission order, so the decoder reads forward:
///   slot = x % 2^12;  s = the symbol whose [start, start + f) holds slot
///   x = f · (x / 2^12) + slot - start;  if x &lt; 2^16: x = x · 2^16 + next word
/// A valid stream leaves all four states at exactly 2^16 with every word consumed.
/// </code></summary>
internal interface IRansCoder
{
    /// <summary>The state's lower bound L and the encoder's initial state.</summary>
    const uint StateLow = 1u << 16;

    /// <summary>Interleaved states.</summary>
    const int Ways = 4;

    /// <summary>Largest stream <see cref="Encode"/> can write for <paramref name="symbols"/> symbols
    /// (at most one word per symbol, plus the states).</summary>
    static int MaxStreamLength(int symbols) => 4 * Ways + 2 * symbols;

    /// <summary>Histogram of the lane's symbols into <paramref name="counts"/> (Alphabet entries).</summary>
    void Count(ReadOnlySpan<byte> raw, Lane lane, Span<uint> counts);

    /// <summary>Encodes the lane with <paramref name="table"/> (every symbol present in it, at least
    /// two distinct) into <paramref name="destination"/> (at least <see cref="MaxStreamLength"/>
    /// bytes); returns the stream length.</summary>
    int Encode(ReadOnlySpan<byte> raw, Lane lane, RansTable table, Span<byte> destination);

    /// <summary>Decodes all of <paramref name="stream"/> into the lane's symbols of <paramref name="raw"/>.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> when the stream is too
    /// short, too long, or does not end in the initial states.</exception>
    void Decode(ReadOnlySpan<byte> stream, RansTable table, Span<byte> raw, Lane lane);
}
