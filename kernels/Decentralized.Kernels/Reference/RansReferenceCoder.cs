using System.Buffers.Binary;
using Decentralized.Kernels.Entropy;

namespace Decentralized.Kernels.Reference;

/// <summary>Scalar reference of <see cref="RansCoder"/>: the definition in <see cref="IRansCoder"/>
/// one symbol at a time, with integer division, a linear search for the slot's symbol and a bounds
/// check on every word.</summary>
internal sealed class RansReferenceCoder : IRansCoder
{
    private const uint L = IRansCoder.StateLow;
    private const int Bits = RansTable.ProbabilityBits;

    /// <inheritdoc />
    public void Count(ReadOnlySpan<byte> raw, Lane lane, Span<uint> counts)
    {
        counts.Clear();
        for (int i = 0; i < lane.Count; i++)
        {
            counts[lane.SymbolAt(raw, i)]++;
        }
    }

    /// <inheritdoc />
    public int Encode(ReadOnlySpan<byte> raw, Lane lane, RansTable table, Span<byte> destination)
    {
        var states = new uint[IRansCoder.Ways];
        Array.Fill(states, L);
        var words = new List<ushort>();
        for (int i = lane.Count - 1; i >= 0; i--)
        {
            int s = lane.SymbolAt(raw, i);
            uint f = table.Frequencies[s];
            ref uint x = ref states[i % IRansCoder.Ways];
            if (x >= (ulong)f << (32 - Bits))
            {
                words.Add((ushort)x);
                x >>= 16;
            }

            x = ((x / f) << Bits) + x % f + table.Starts[s];
        }

        for (int j = 0; j < IRansCoder.Ways; j++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(4 * j)..], states[j]);
        }

        int at = 4 * IRansCoder.Ways;
        for (int w = words.Count - 1; w >= 0; w--, at += 2)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], words[w]);
        }

        return at;
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> stream, RansTable table, Span<byte> raw, Lane lane)
    {
        if (stream.Length < 4 * IRansCoder.Ways || stream.Length % 2 != 0)
        {
            throw AnsChunkCodec.Malformed($"rANS stream of {stream.Length} bytes is not 16 bytes of state plus whole words");
        }

        var states = new uint[IRansCoder.Ways];
        for (int j = 0; j < states.Length; j++)
        {
            states[j] = BinaryPrimitives.ReadUInt32LittleEndian(stream[(4 * j)..]);
            if (states[j] < L)
            {
                throw AnsChunkCodec.Malformed("rANS initial state is below 2^16");
            }
        }

        int at = 4 * IRansCoder.Ways;
        for (int i = 0; i < lane.Count; i++)
        {
            ref uint x = ref states[i % IRansCoder.Ways];
            uint slot = x & (RansTable.Total - 1);
            int s = 0;
            while (slot >= table.Starts[s] + table.Frequencies[s])
            {
                s++;
            }

            x = table.Frequencies[s] * (x >> Bits) + slot - table.Starts[s];
            if (x < L)
            {
                if (at + 2 > stream.Length)
                {
                    throw AnsChunkCodec.Malformed("rANS stream ends before its last symbol");
                }

                x = (x << 16) | BinaryPrimitives.ReadUInt16LittleEndian(stream[at..]);
                at += 2;
            }

            lane.SetSymbolAt(raw, i, s);
        }

        if (at != stream.Length || Array.Exists(states, x => x != L))
        {
            throw AnsChunkCodec.Malformed("rANS stream does not end in its initial state (corrupt or trailing words)");
        }
    }
}
