using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Relay;

/// <summary>
/// Limits a relay applies to each relayed connection; 0 means none.
/// <code>
///   Limit { optional uint32 duration = 1 (seconds); optional uint64 data = 2 (bytes per direction); }
/// </code>
/// </summary>
public sealed record RelayLimit(uint DurationSeconds, ulong DataBytes)
{
    /// <summary>Encodes the sub-message body.</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(16);
        if (DurationSeconds > 0)
        {
            writer.WriteVarint(1, DurationSeconds);
        }
        if (DataBytes > 0)
        {
            writer.WriteVarint(2, DataBytes);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes the sub-message body; a duration beyond uint32 is refused.</summary>
    public static RelayLimit Decode(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        ulong duration = 0, bytes = 0;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                    duration = reader.ReadVarint();
                    if (duration > uint.MaxValue)
                    {
                        throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"relay limit duration {duration} exceeds uint32");
                    }
                    break;
                case 2:
                    ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                    bytes = reader.ReadVarint();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        return new RelayLimit((uint)duration, bytes);
    }
}
