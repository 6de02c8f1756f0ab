using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Identity;

/// <summary>Shared codec of the PublicKey and PrivateKey protobufs (same shape: Type = 1, Data = 2, both required).</summary>
internal static class KeyProtobuf
{
    /// <summary>Largest key message accepted; Ed25519 needs 100 bytes at most, RSA-4096 about 2.4 KB.</summary>
    public const int MaxEncodedBytes = 4096;

    public static byte[] Encode(KeyType type, ReadOnlySpan<byte> data)
        => new ProtobufWriter(data.Length + 8).WriteVarint(1, (ulong)type).WriteBytes(2, data).ToArray();

    public static (KeyType Type, byte[] Data) Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxEncodedBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"key message of {encoded.Length} bytes is too large");
        }
        var reader = new ProtobufReader(encoded);
        KeyType? type = null;
        byte[]? data = null;
        try
        {
            while (reader.TryReadTag(out var field, out var wire))
            {
                switch (field)
                {
                    case 1:
                        ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                        var raw = reader.ReadVarint();
                        type = raw <= 3 ? (KeyType)raw : throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"unknown key type {raw}");
                        break;
                    case 2:
                        ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                        data = reader.ReadBytes().ToArray();
                        break;
                    default:
                        reader.Skip(wire);
                        break;
                }
            }
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidProtobuf)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, "malformed key protobuf", e);
        }
        if (type is null || data is null)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, "key protobuf is missing Type or Data");
        }
        return (type.Value, data);
    }
}
