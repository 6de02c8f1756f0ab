namespace Decentralized.Protocol.Wire;

/// <summary>Protobuf wire types (the low 3 bits of a tag).</summary>
public enum ProtobufWireType
{
    /// <summary>A varint value.</summary>
    Varint = 0,
    /// <summary>Eight little-endian bytes.</summary>
    Fixed64 = 1,
    /// <summary>A uvarint length followed by that many bytes.</summary>
    LengthDelimited = 2,
    /// <summary>Four little-endian bytes.</summary>
    Fixed32 = 5,
}
