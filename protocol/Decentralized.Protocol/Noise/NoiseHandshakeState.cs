using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Decentralized.Protocol.Noise;

/// <summary>
/// The Noise XX handshake as a pure state machine (no I/O): the caller moves the three messages.
/// <code>
///   A  -> e                 e.pub(32) ‖ payload                                    (libp2p: payload empty)
///   B  &lt;- e, ee, s, es      e.pub(32) ‖ enc(s.pub)(48) ‖ enc(payload)(len+16)
///   C  -> s, se             enc(s.pub)(48) ‖ enc(payload)(len+16)
/// </code>
/// DH: ee = DH(e, re); es = initiator DH(e, rs) / responder DH(s, re); se = initiator DH(s, re) / responder DH(e, rs).
/// </summary>
public sealed class NoiseHandshakeState : IDisposable
{
    /// <summary>Size of an X25519 key.</summary>
    public const int DhLength = 32;

    /// <summary>Largest handshake message (the 2-byte frame length bounds it).</summary>
    public const int MaxMessageLength = 65535;

    private readonly bool _initiator;
    private readonly NoiseSymmetricState _symmetric = new();
    private readonly byte[] _staticPrivate;
    private readonly byte[] _staticPublic = new byte[DhLength];
    private readonly byte[] _ephemeralPrivate;
    private readonly byte[] _ephemeralPublic = new byte[DhLength];
    private byte[]? _remoteEphemeral;
    private byte[]? _remoteStatic;
    private int _step;

    /// <summary>
    /// Prepares a handshake. <paramref name="staticPrivateKey"/> is the 32-byte X25519 static key;
    /// <paramref name="ephemeralPrivateKey"/> is only for reproducible tests (random when null).
    /// </summary>
    public NoiseHandshakeState(bool initiator, ReadOnlySpan<byte> staticPrivateKey, byte[]? ephemeralPrivateKey = null)
    {
        if (staticPrivateKey.Length != DhLength || ephemeralPrivateKey is { Length: not DhLength })
        {
            throw new ArgumentException("X25519 private keys are 32 bytes");
        }
        _initiator = initiator;
        _staticPrivate = staticPrivateKey.ToArray();
        X25519.GeneratePublicKey(_staticPrivate, _staticPublic);
        _ephemeralPrivate = ephemeralPrivateKey ?? RandomNumberGenerator.GetBytes(DhLength);
        X25519.GeneratePublicKey(_ephemeralPrivate, _ephemeralPublic);
    }

    /// <summary>Our X25519 static public key (what the identity signature covers).</summary>
    public ReadOnlySpan<byte> LocalStaticPublicKey => _staticPublic;

    /// <summary>The remote X25519 static key, once received (after message B for the initiator, C for the responder).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey => _remoteStatic;

    /// <summary>True after all three messages.</summary>
    public bool IsCompleted => _step == 3;

    /// <summary>True if the next operation is <see cref="WriteMessage"/> (false: <see cref="ReadMessage"/>).</summary>
    public bool IsMyTurn => !IsCompleted && (_step % 2 == 0) == _initiator;

    /// <summary>The current handshake hash (channel binding).</summary>
    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>Generates a fresh X25519 private key.</summary>
    public static byte[] GenerateStaticKey() => RandomNumberGenerator.GetBytes(DhLength);

    /// <summary>Computes the X25519 public key of a private key.</summary>
    public static byte[] GetPublicKey(ReadOnlySpan<byte> privateKey)
    {
        var pub = new byte[DhLength];
        X25519.GeneratePublicKey(privateKey, pub);
        return pub;
    }

    /// <summary>Produces the next message carrying <paramref name="payload"/>.</summary>
    public byte[] WriteMessage(ReadOnlySpan<byte> payload)
    {
        if (!IsMyTurn)
        {
            throw new InvalidOperationException("not our turn to write");
        }
        var parts = new List<byte[]>(3);
        switch (_step)
        {
            case 0:
                _symmetric.MixHash(_ephemeralPublic);
                parts.Add(_ephemeralPublic);
                break;
            case 1:
                _symmetric.MixHash(_ephemeralPublic);
                parts.Add(_ephemeralPublic);
                _symmetric.MixKey(Dh(_ephemeralPrivate, _remoteEphemeral!));
                parts.Add(_symmetric.EncryptAndHash(_staticPublic));
                _symmetric.MixKey(Dh(_staticPrivate, _remoteEphemeral!));
                break;
            default:
                parts.Add(_symmetric.EncryptAndHash(_staticPublic));
                _symmetric.MixKey(Dh(_staticPrivate, _remoteEphemeral!));
                break;
        }
        parts.Add(_symmetric.EncryptAndHash(payload));
        _step++;
        var message = parts.SelectMany(p => p).ToArray();
        if (message.Length > MaxMessageLength)
        {
            throw new InvalidOperationException("handshake payload too large for one Noise message");
        }
        return message;
    }

    /// <summary>Consumes the peer's next message and returns its payload; throws <see cref="ProtocolException"/> if malformed.</summary>
    public byte[] ReadMessage(ReadOnlySpan<byte> message)
    {
        if (IsMyTurn || IsCompleted)
        {
            throw new InvalidOperationException("not our turn to read");
        }
        var rest = message;
        switch (_step)
        {
            case 0:
                _remoteEphemeral = Take(ref rest, DhLength).ToArray();
                _symmetric.MixHash(_remoteEphemeral);
                break;
            case 1:
                _remoteEphemeral = Take(ref rest, DhLength).ToArray();
                _symmetric.MixHash(_remoteEphemeral);
                _symmetric.MixKey(Dh(_ephemeralPrivate, _remoteEphemeral));
                _remoteStatic = DecryptHandshake(Take(ref rest, DhLength + NoiseCipherState.TagSize));
                _symmetric.MixKey(Dh(_ephemeralPrivate, _remoteStatic));
                break;
            default:
                _remoteStatic = DecryptHandshake(Take(ref rest, DhLength + NoiseCipherState.TagSize));
                _symmetric.MixKey(Dh(_ephemeralPrivate, _remoteStatic));
                break;
        }
        var payload = DecryptHandshake(rest);
        _step++;
        return payload;
    }

    /// <summary>After the handshake: (send, receive) transport ciphers for this side.</summary>
    public (NoiseCipherState Send, NoiseCipherState Receive) Split()
    {
        if (!IsCompleted)
        {
            throw new InvalidOperationException("handshake not complete");
        }
        var (first, second) = _symmetric.Split();
        return _initiator ? (first, second) : (second, first);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ephemeralPrivate);
        CryptographicOperations.ZeroMemory(_staticPrivate);
        _symmetric.Dispose();
    }

    private byte[] DecryptHandshake(ReadOnlySpan<byte> ciphertext)
    {
        try
        {
            return _symmetric.DecryptAndHash(ciphertext);
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.DecryptionFailed)
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "handshake message failed authentication", e);
        }
    }

    private static ReadOnlySpan<byte> Take(ref ReadOnlySpan<byte> rest, int count)
    {
        if (rest.Length < count)
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, $"handshake message too short: needed {count} more bytes, had {rest.Length}");
        }
        var taken = rest[..count];
        rest = rest[count..];
        return taken;
    }

    private static byte[] Dh(byte[] privateKey, byte[] publicKey)
    {
        var shared = new byte[DhLength];
        // An all-zero result means the peer sent a low-order point: refuse rather than derive a known key.
        if (!X25519.CalculateAgreement(privateKey, publicKey, shared))
        {
            throw new ProtocolException(ProtocolErrorCode.HandshakeFailed, "X25519 produced an all-zero shared secret");
        }
        return shared;
    }
}
