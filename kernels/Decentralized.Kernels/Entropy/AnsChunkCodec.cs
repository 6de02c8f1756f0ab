using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Decentralized.Kernels.Reference;

namespace Decentralized.Kernels.Entropy;

/// <summary>The <c>ans</c> stage: a lossless transform of one chunk's raw bytes (the value codec's
/// output) into its stored bytes. The encoder splits the chunk by the chain's layout
/// (<see cref="AnsLayout"/>): 4-bit codes become one lane of nibbles, int8 codes one byte lane, fp32
/// and bf16 scales or values one lane per byte plane (the exponent bytes of similar numbers are nearly
/// constant, the low mantissa bytes are noise). Each lane is stored as is, as one repeated symbol, or
/// rANS coded against its own static frequency table, whichever is smallest. The decoder needs no
/// layout: segments say what they cover.
/// <code>
/// stored := segment+                                   (they cover the raw bytes in order; at most 8)
/// segment:  +---------+-------------------+---------------------+
///           | form u8 | length LEB128     | lane x lanes(form)  |
///           +---------+-------------------+---------------------+
///           form 0x01, 0x02, 0x04: that many byte lanes; lane k holds raw bytes k, k + lanes, ...
///           form 0x11: one nibble lane (the low, then the high nibble of every byte)
/// lane:     +---------+------------------------------------------------------------------+
///           | mode u8 | 0 stored: the lane's bytes                                       |
///           |         | 1 constant: symbol u8 (every symbol of the lane)                 |
///           |         | 2 rANS: table (RansTable) | length LEB128 | stream (IRansCoder)  |
///           +---------+------------------------------------------------------------------+
/// </code>
/// Every length is checked against the chunk's raw length (itself bounded by the chain before the
/// chunk is read) and the stored bytes left, the stored bytes must be consumed exactly, and a rANS
/// stream must end in its initial state; decoding costs O(raw bytes + 32 · 4,096) per chunk whatever
/// the input. Owns pooled scratch; not thread-safe.</summary>
internal sealed class AnsChunkCodec : IDisposable
{
    /// <summary>Most segments a chunk may hold (the encoder writes at most three).</summary>
    public const int MaxSegments = 8;

    private const byte ModeStored = 0;
    private const byte ModeConstant = 1;
    private const byte ModeRans = 2;
    private const byte FormNibbles = 0x11;

    private readonly IRansCoder _coder;
    private readonly RansTable _table = new();
    private byte[]? _stream;

    /// <summary>Creates the stage with the fast coder, or with the scalar reference (tests).</summary>
    public AnsChunkCodec(bool reference)
    {
        // The fast coder reads states and words in machine order.
        _coder = reference || !BitConverter.IsLittleEndian ? new RansReferenceCoder() : new RansCoder();
    }

    /// <summary>Largest stored form of <paramref name="rawLength"/> bytes: every lane costs at most one
    /// byte more than storing it, every segment header at most six.</summary>
    public static int MaxStoredLength(int rawLength) => checked(rawLength + 64);

    /// <summary>Encodes <paramref name="raw"/>, split as <paramref name="segments"/> say, into
    /// <paramref name="destination"/> (at least <see cref="MaxStoredLength"/> bytes); returns the length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Encode(ReadOnlySpan<byte> raw, ReadOnlySpan<AnsSegment> segments, Span<byte> destination)
    {
        Debug.Assert(segments.Length <= 3);
        int at = 0;
        foreach (AnsSegment segment in segments)
        {
            destination[at++] = segment.Nibbles ? FormNibbles : (byte)segment.Lanes;
            at += Leb128.Write(destination[at..], (uint)segment.Length);
            for (int k = 0; k < segment.Lanes; k++)
            {
                at += EncodeLane(raw, segment.Lane(k), destination[at..]);
            }
        }

        return at;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int EncodeLane(ReadOnlySpan<byte> raw, Lane lane, Span<byte> destination)
    {
        Span<uint> counts = stackalloc uint[lane.Alphabet];
        _coder.Count(raw, lane, counts);
        int distinct = 0;
        int symbol = 0;
        for (int s = 0; s < counts.Length; s++)
        {
            if (counts[s] != 0)
            {
                distinct++;
                symbol = s;
            }
        }

        if (distinct == 1)
        {
            destination[0] = ModeConstant;
            destination[1] = (byte)symbol;
            return 2;
        }

        if (distinct > 1)
        {
            // Estimate first: the low mantissa planes are incompressible, coding them would be wasted.
            _table.Normalize(counts);
            int tableLength = _table.SerializedLength;
            double estimate = tableLength + 5 + 4 * IRansCoder.Ways + Math.Ceiling(_table.CostBits(counts) / 8);
            if (estimate < lane.RawBytes)
            {
                int maxStream = IRansCoder.MaxStreamLength(lane.Count);
                if (_stream is null || _stream.Length < maxStream)
                {
                    Return();
                    _stream = ArrayPool<byte>.Shared.Rent(maxStream);
                }

                int streamLength = _coder.Encode(raw, lane, _table, _stream);
                int coded = tableLength + Leb128.Length((uint)streamLength) + streamLength;
                if (coded < lane.RawBytes)
                {
                    destination[0] = ModeRans;
                    int at = 1 + _table.Write(destination[1..]);
                    at += Leb128.Write(destination[at..], (uint)streamLength);
                    _stream.AsSpan(0, streamLength).CopyTo(destination[at..]);
                    return at + streamLength;
                }
            }
        }

        destination[0] = ModeStored;
        lane.Gather(raw, destination.Slice(1, lane.RawBytes));
        return 1 + lane.RawBytes;
    }

    /// <summary>Decodes all of <paramref name="stored"/> into exactly <paramref name="raw"/>.</summary>
    /// <exception cref="CodecException"><see cref="CodecErrorCode.Malformed"/> for anything that is not
    /// a valid encoding of exactly raw.Length bytes.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(ReadOnlySpan<byte> stored, Span<byte> raw)
    {
        int at = 0;
        int produced = 0;
        for (int segments = 0; produced < raw.Length; segments++)
        {
            if (segments == MaxSegments || at >= stored.Length)
            {
                throw Malformed(segments == MaxSegments
                    ? $"entropy-coded chunk needs more than {MaxSegments} segments"
                    : $"entropy-coded chunk ends after {produced} of its {raw.Length} bytes");
            }

            byte form = stored[at++];
            if (form is not (1 or 2 or 4 or FormNibbles))
            {
                throw Malformed($"entropy-coded segment has unknown form 0x{form:X2}");
            }

            int length = (int)Leb128.Read(stored, ref at, maxBytes: 5);
            if (length == 0 || length > raw.Length - produced)
            {
                throw Malformed($"entropy-coded segment of {length} bytes does not fit the {raw.Length - produced} raw bytes left");
            }

            var segment = new AnsSegment(produced, length, form == FormNibbles ? 1 : form, form == FormNibbles);
            for (int k = 0; k < segment.Lanes; k++)
            {
                at = DecodeLane(stored, at, raw, segment.Lane(k));
            }

            produced += length;
        }

        if (at != stored.Length)
        {
            throw Malformed($"{stored.Length - at} bytes follow the entropy-coded chunk's last segment");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int DecodeLane(ReadOnlySpan<byte> stored, int at, Span<byte> raw, Lane lane)
    {
        if (at >= stored.Length)
        {
            throw Malformed("entropy-coded chunk ends before a lane");
        }

        switch (stored[at++])
        {
            case ModeStored:
                if (stored.Length - at < lane.RawBytes)
                {
                    throw Malformed($"stored lane of {lane.RawBytes} bytes is truncated");
                }

                lane.Scatter(stored.Slice(at, lane.RawBytes), raw);
                return at + lane.RawBytes;
            case ModeConstant:
                if (at >= stored.Length || stored[at] >= lane.Alphabet)
                {
                    throw Malformed("constant lane's symbol is missing or outside its alphabet");
                }

                lane.Fill(raw, stored[at]);
                return at + 1;
            case ModeRans:
                at += _table.Read(stored[at..], lane.Alphabet);
                int streamLength = (int)Leb128.Read(stored, ref at, maxBytes: 5);
                if (streamLength > stored.Length - at)
                {
                    throw Malformed($"rANS stream of {streamLength} bytes is truncated");
                }

                _coder.Decode(stored.Slice(at, streamLength), _table, raw, lane);
                return at + streamLength;
            default:
                throw Malformed($"entropy-coded lane has unknown mode {stored[at - 1]}");
        }
    }

    /// <summary>The error every malformed entropy-coded chunk raises.</summary>
    public static CodecException Malformed(string why) => new(CodecErrorCode.Malformed, why);

    public void Dispose()
    {
        Return();
        (_coder as IDisposable)?.Dispose();
    }

    private void Return()
    {
        if (_stream is not null)
        {
            ArrayPool<byte>.Shared.Return(_stream);
            _stream = null;
        }
    }
}
