using Decentralized.Protocol.Wire;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Decentralized.Protocol.Identity;

/// <summary>
/// A libp2p public key. Serialized as the deterministic proto2 message
/// <code>
///   PublicKey { required KeyType Type = 1; required bytes Data = 2; }
///   Ed25519:  08 01 12 20 &lt;32-byte key&gt;   (36 bytes)
/// </code>
/// Only Ed25519 keys can be parsed; any other type is refused with <see cref="ProtocolErrorCode.InvalidKey"/>.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    /// <summary>Size of a raw Ed25519 public key.</summary>
    public const int Ed25519Size = 32;

    private readonly byte[] _data;

    private PublicKey(KeyType type, byte[] data)
    {
        Type = type;
        _data = data;
    }

    /// <summary>The key type.</summary>
    public KeyType Type { get; }

    /// <summary>The raw key bytes (32 bytes for Ed25519).</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>Wraps a raw 32-byte Ed25519 public key.</summary>
    public static PublicKey FromEd25519(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != Ed25519Size)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"Ed25519 public key must be 32 bytes, got {raw.Length}");
        }
        return new PublicKey(KeyType.Ed25519, raw.ToArray());
    }

    /// <summary>Parses the PublicKey protobuf; only Ed25519 is accepted.</summary>
    public static PublicKey FromProtobuf(ReadOnlySpan<byte> encoded)
    {
        var (type, data) = KeyProtobuf.Decode(encoded);
        if (type != KeyType.Ed25519)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"unsupported public key type {type}");
        }
        return FromEd25519(data);
    }

    /// <summary>The deterministic PublicKey protobuf (the bytes a peer ID is derived from).</summary>
    public byte[] ToProtobuf() => KeyProtobuf.Encode(Type, _data);

    /// <summary>The peer ID of this key.</summary>
    public PeerId ToPeerId() => PeerId.FromPublicKey(this);

    /// <summary>Verifies an Ed25519 signature; false for a wrong signature or a malformed key.</summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != 64)
        {
            return false;
        }
        return Ed25519.Verify(signature, _data, message);
    }

    /// <inheritdoc />
    public bool Equals(PublicKey? other) => other is not null && other.Type == Type && other._data.AsSpan().SequenceEqual(_data);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Type, BitConverter.ToInt32(_data, 0));

    /// <inheritdoc />
    public override string ToString() => $"{Type}:{Convert.ToHexStringLower(_data)}";
}
