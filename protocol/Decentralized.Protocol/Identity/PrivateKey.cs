using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Decentralized.Protocol.Identity;

/// <summary>
/// An Ed25519 identity key. Serialized as the libp2p PrivateKey protobuf whose Data is seed ‖ public key:
/// <code>
///   08 01 12 40 &lt;32-byte seed&gt; &lt;32-byte public key&gt;     (68 bytes)
/// </code>
/// The older 96-byte form seed ‖ pub ‖ pub is accepted when both copies agree.
/// </summary>
public sealed class PrivateKey
{
    /// <summary>Size of an Ed25519 seed.</summary>
    public const int SeedSize = 32;

    /// <summary>Size of an Ed25519 signature.</summary>
    public const int SignatureSize = 64;

    private readonly byte[] _seed;

    private PrivateKey(byte[] seed)
    {
        _seed = seed;
        var pub = new byte[PublicKey.Ed25519Size];
        Ed25519.GeneratePublicKey(seed, pub);
        PublicKey = PublicKey.FromEd25519(pub);
        PeerId = PeerId.FromPublicKey(PublicKey);
    }

    /// <summary>The matching public key.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>The peer ID of this identity.</summary>
    public PeerId PeerId { get; }

    /// <summary>Creates a fresh key from the OS random generator.</summary>
    public static PrivateKey Generate() => new(RandomNumberGenerator.GetBytes(SeedSize));

    /// <summary>Creates the key for a 32-byte seed (deterministic: tests and golden vectors).</summary>
    public static PrivateKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedSize)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"Ed25519 seed must be 32 bytes, got {seed.Length}");
        }
        return new PrivateKey(seed.ToArray());
    }

    /// <summary>Parses a libp2p PrivateKey protobuf (Ed25519 only; 64- or 96-byte Data).</summary>
    public static PrivateKey FromProtobuf(ReadOnlySpan<byte> encoded)
    {
        var (type, data) = KeyProtobuf.Decode(encoded);
        if (type != KeyType.Ed25519)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"unsupported private key type {type}");
        }
        if (data.Length != 64 && data.Length != 96)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, $"Ed25519 private key data must be 64 or 96 bytes, got {data.Length}");
        }
        if (data.Length == 96 && !data.AsSpan(32, 32).SequenceEqual(data.AsSpan(64, 32)))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, "the two public key copies of a 96-byte private key differ");
        }
        var key = FromSeed(data.AsSpan(0, SeedSize));
        if (!key.PublicKey.Data.SequenceEqual(data.AsSpan(32, 32)))
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidKey, "private key's public half does not match its seed");
        }
        return key;
    }

    /// <summary>The PrivateKey protobuf (seed ‖ pub form), as written to key files.</summary>
    public byte[] ToProtobuf()
    {
        Span<byte> data = stackalloc byte[64];
        _seed.CopyTo(data);
        PublicKey.Data.CopyTo(data[32..]);
        return KeyProtobuf.Encode(KeyType.Ed25519, data);
    }

    /// <summary>Signs <paramref name="message"/> (pure Ed25519, no context).</summary>
    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signature = new byte[SignatureSize];
        Ed25519.Sign(_seed, PublicKey.Data, message, signature);
        return signature;
    }
}
