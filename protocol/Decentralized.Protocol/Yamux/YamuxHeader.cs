using System.Buffers.Binary;

namespace Decentralized.Protocol.Yamux;

/// <summary>
/// The 12-byte Yamux frame header (all fields big-endian).
/// <code>
///   0        1        2                4                            8                            12
///   +--------+--------+--------+-------+--------+--------+----------+--------+--------+----------+
///   |version |  type  |     flags      |          stream ID         |           length           |
///   +--------+--------+----------------+----------------------------+----------------------------+
///   version = 0; type: 0 Data, 1 WindowUpdate, 2 Ping, 3 GoAway; flags: SYN 1, ACK 2, FIN 4, RST 8
/// </code>
/// </summary>
public readonly record struct YamuxHeader(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    /// <summary>Header size in bytes.</summary>
    public const int Size = 12;

    private const YamuxFlags AllFlags = YamuxFlags.Syn | YamuxFlags.Ack | YamuxFlags.Fin | YamuxFlags.Rst;

    /// <summary>Writes the header into the first 12 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = 0;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Length);
    }

    /// <summary>
    /// Decodes and validates a header: version 0, a known type, known flags, and the stream-0 rules
    /// (Ping and GoAway only on stream 0, Data and WindowUpdate never on it; ping flags exactly SYN or ACK).
    /// </summary>
    public static YamuxHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw Error("truncated header");
        }
        if (source[0] != 0)
        {
            throw Error($"unsupported version {source[0]}");
        }
        if (source[1] > (byte)YamuxFrameType.GoAway)
        {
            throw Error($"unknown frame type {source[1]}");
        }
        var header = new YamuxHeader((YamuxFrameType)source[1], (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]), BinaryPrimitives.ReadUInt32BigEndian(source[8..]));
        header.Validate();
        return header;
    }

    private void Validate()
    {
        if ((Flags & ~AllFlags) != 0)
        {
            throw Error($"unknown flags 0x{(ushort)Flags:x}");
        }
        var sessionFrame = Type is YamuxFrameType.Ping or YamuxFrameType.GoAway;
        if (sessionFrame != (StreamId == 0))
        {
            throw Error($"{Type} frame on stream {StreamId}");
        }
        if (Type == YamuxFrameType.Ping && Flags is not (YamuxFlags.Syn or YamuxFlags.Ack))
        {
            throw Error($"ping flags must be exactly SYN or ACK, got {Flags}");
        }
        if ((Flags & (YamuxFlags.Syn | YamuxFlags.Ack)) == (YamuxFlags.Syn | YamuxFlags.Ack))
        {
            throw Error("SYN and ACK on the same frame");
        }
    }

    private static ProtocolException Error(string message) => new(ProtocolErrorCode.MuxerProtocolError, "yamux: " + message);
}
