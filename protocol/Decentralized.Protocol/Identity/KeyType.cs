namespace Decentralized.Protocol.Identity;

/// <summary>libp2p key types (field 1 of the PublicKey/PrivateKey protobufs).</summary>
public enum KeyType
{
    /// <summary>RSA (not supported for signing or verification here).</summary>
    Rsa = 0,
    /// <summary>Ed25519: the only type this node creates and verifies.</summary>
    Ed25519 = 1,
    /// <summary>secp256k1 (not supported).</summary>
    Secp256k1 = 2,
    /// <summary>ECDSA (not supported).</summary>
    Ecdsa = 3,
}
