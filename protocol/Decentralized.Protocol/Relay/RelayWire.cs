using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Relay;

/// <summary>Field readers shared by the hop and stop decoders (wire type checked before reading).</summary>
internal static class RelayWire
{
    public static ulong ReadVarint(ref ProtobufReader reader, ProtobufWireType wire, int field)
    {
        ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
        return reader.ReadVarint();
    }

    public static ReadOnlySpan<byte> ReadBytes(ref ProtobufReader reader, ProtobufWireType wire, int field)
    {
        ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
        return reader.ReadBytes();
    }

    /// <summary>Unknown status values are kept as <see cref="RelayStatus.Unused"/> (never "OK").</summary>
    public static RelayStatus ToStatus(ulong value) =>
        value <= int.MaxValue && Enum.IsDefined(typeof(RelayStatus), (int)value) ? (RelayStatus)(int)value : RelayStatus.Unused;
}
