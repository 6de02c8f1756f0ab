using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// Noise CipherState for ChaChaPoly: a key and a 64-bit counter nonce.
/// <code>
///   nonce (12 bytes) = 00 00 00 00 ‖ uint64 little-endian counter
///   ciphertext       = ChaCha20(plaintext) ‖ Poly1305 tag (16 bytes)
/// </code>
/// Not thread-safe: one writer (or one reader) owns it.
/// </summary>
public sealed class NoiseCipherState : IDisposable
{
    /// <summary>Size of the Poly1305 tag appended to every ciphertext.</summary>
    public const int TagSize = 16;

    /// <summary>Size of a ChaChaPoly key.</summary>
    public const int KeySize = 32;

    private ChaCha20Poly1305? _aead;
    private ulong _nonce;

    /// <summary>True once a key was set (before that, Noise passes payloads through in the clear).</summary>
    public bool HasKey => _aead is not null;

    /// <summary>The next nonce to be used (messages sent or received so far).</summary>
    public ulong Nonce => _nonce;

    /// <summary>Sets the key and resets the nonce to 0.</summary>
    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException("ChaChaPoly keys are 32 bytes", nameof(key));
        }
        _aead?.Dispose();
        _aead = new ChaCha20Poly1305(key);
        _nonce = 0;
    }

    /// <summary>Encrypts into <paramref name="destination"/> (plaintext length + 16); returns the bytes written.</summary>
    public int Encrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        var aead = _aead ?? throw new InvalidOperationException("cipher has no key");
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        aead.Encrypt(nonce, plaintext, destination[..plaintext.Length], destination.Slice(plaintext.Length, TagSize), associatedData);
        return plaintext.Length + TagSize;
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> (which ends in the tag) into <paramref name="destination"/>; returns the
    /// plaintext length. Throws <see cref="ProtocolException"/> (<see cref="ProtocolErrorCode.DecryptionFailed"/>) on a bad tag.
    /// </summary>
    public int Decrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        var aead = _aead ?? throw new InvalidOperationException("cipher has no key");
        if (ciphertext.Length < TagSize)
        {
            throw new ProtocolException(ProtocolErrorCode.DecryptionFailed, $"ciphertext of {ciphertext.Length} bytes is shorter than the tag");
        }
        var length = ciphertext.Length - TagSize;
        Span<byte> nonce = stackalloc byte[12];
        NextNonce(nonce);
        try
        {
            aead.Decrypt(nonce, ciphertext[..length], ciphertext[length..], destination[..length], associatedData);
        }
        catch (CryptographicException e)
        {
            throw new ProtocolException(ProtocolErrorCode.DecryptionFailed, "frame failed authentication", e);
        }
        return length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _aead?.Dispose();
        _aead = null;
    }

    private void NextNonce(Span<byte> nonce)
    {
        // Noise reserves 2^64-1; reaching it means the session must be rekeyed, which libp2p never does.
        if (_nonce == ulong.MaxValue)
        {
            throw new ProtocolException(ProtocolErrorCode.DecryptionFailed, "Noise nonce space exhausted");
        }
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], _nonce++);
    }
}
