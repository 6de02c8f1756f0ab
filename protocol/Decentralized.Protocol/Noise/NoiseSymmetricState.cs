using System.Security.Cryptography;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// Noise SymmetricState for Noise_XX_25519_ChaChaPoly_SHA256: chaining key, handshake hash and the handshake cipher.
/// The protocol name is exactly 32 bytes, so h starts as the name itself (no hashing) and ck = h.
/// </summary>
internal sealed class NoiseSymmetricState : IDisposable
{
    public const string ProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";

    private readonly byte[] _ck = new byte[32];
    private readonly byte[] _h = new byte[32];
    private readonly NoiseCipherState _cipher = new();

    public NoiseSymmetricState()
    {
        System.Text.Encoding.ASCII.GetBytes(ProtocolName, _h);
        _h.CopyTo(_ck, 0);
        MixHash([]); // empty prologue: MixHash still runs (h = SHA256(h))
    }

    public ReadOnlySpan<byte> HandshakeHash => _h;

    public void MixHash(ReadOnlySpan<byte> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(_h);
        hash.AppendData(data);
        hash.GetHashAndReset(_h);
    }

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> output = stackalloc byte[64];
        Hkdf2(_ck, inputKeyMaterial, output);
        output[..32].CopyTo(_ck);
        _cipher.InitializeKey(output[32..]);
        CryptographicOperations.ZeroMemory(output);
    }

    /// <summary>Encrypts (or copies, before the first key) and mixes the result into h, even when empty.</summary>
    public byte[] EncryptAndHash(ReadOnlySpan<byte> plaintext)
    {
        byte[] ciphertext;
        if (_cipher.HasKey)
        {
            ciphertext = new byte[plaintext.Length + NoiseCipherState.TagSize];
            _cipher.Encrypt(_h, plaintext, ciphertext);
        }
        else
        {
            ciphertext = plaintext.ToArray();
        }
        MixHash(ciphertext);
        return ciphertext;
    }

    public byte[] DecryptAndHash(ReadOnlySpan<byte> ciphertext)
    {
        byte[] plaintext;
        if (_cipher.HasKey)
        {
            if (ciphertext.Length < NoiseCipherState.TagSize)
            {
                throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "handshake ciphertext shorter than its tag");
            }
            plaintext = new byte[ciphertext.Length - NoiseCipherState.TagSize];
            _cipher.Decrypt(_h, ciphertext, plaintext);
        }
        else
        {
            plaintext = ciphertext.ToArray();
        }
        MixHash(ciphertext);
        return plaintext;
    }

    /// <summary>Derives the two transport keys: k1 for initiator→responder, k2 for responder→initiator.</summary>
    public (NoiseCipherState First, NoiseCipherState Second) Split()
    {
        Span<byte> output = stackalloc byte[64];
        Hkdf2(_ck, [], output);
        var first = new NoiseCipherState();
        var second = new NoiseCipherState();
        first.InitializeKey(output[..32]);
        second.InitializeKey(output[32..]);
        CryptographicOperations.ZeroMemory(output);
        return (first, second);
    }

    /// <summary>
    /// Noise's HKDF with two outputs (RFC 5869, salt = ck, info empty, L = 64), written with HMAC directly because the
    /// platform HKDF (OpenSSL) refuses the empty input key material that Split uses.
    /// </summary>
    internal static void Hkdf2(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output)
    {
        Span<byte> prk = stackalloc byte[32];
        Span<byte> block = stackalloc byte[33];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, prk);
        block[0] = 1;
        HMACSHA256.HashData(prk, block[..1], output[..32]);
        output[..32].CopyTo(block);
        block[32] = 2;
        HMACSHA256.HashData(prk, block, output[32..64]);
        CryptographicOperations.ZeroMemory(prk);
        CryptographicOperations.ZeroMemory(block);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ck);
        _cipher.Dispose();
    }
}
