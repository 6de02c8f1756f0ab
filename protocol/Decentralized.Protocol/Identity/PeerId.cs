using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Identity;

/// <summary>
/// A libp2p peer ID: the multihash of a serialized <see cref="PublicKey"/>.
/// <code>
///   key protobuf ≤ 42 bytes:  00 &lt;len&gt; &lt;PublicKey protobuf&gt;      identity multihash (Ed25519: 38 bytes)
///   otherwise:                12 20 &lt;sha2-256 of PublicKey&gt;      (Qm…)
///   text:  base58btc(multihash)                         12D3KooW…   (printed form)
///          'b' + base32(01 72 ‖ multihash)             bafz…       (CIDv1, libp2p-key codec 0x72)
/// </code>
/// </summary>
public sealed class PeerId : IEquatable<PeerId>
{
    private const int IdentityMaxKeyBytes = 42;
    private const ulong IdentityCode = 0x00;
    private const ulong Sha256Code = 0x12;
    private const ulong CidVersion1 = 0x01;
    private const ulong LibP2PKeyCodec = 0x72;

    /// <summary>Longest multihash accepted when decoding (an identity multihash of a large key).</summary>
    public const int MaxMultihashBytes = 128;

    private readonly byte[] _multihash;
    private readonly int _hash;
    private string? _text;

    private PeerId(byte[] multihash)
    {
        _multihash = multihash;
        var hash = new HashCode();
        hash.AddBytes(multihash);
        _hash = hash.ToHashCode();
    }

    /// <summary>The multihash bytes (what goes into a /p2p/ multiaddr component).</summary>
    public ReadOnlySpan<byte> Multihash => _multihash;

    /// <summary>Derives the peer ID of a public key.</summary>
    public static PeerId FromPublicKey(PublicKey key)
    {
        var encoded = key.ToProtobuf();
        if (encoded.Length <= IdentityMaxKeyBytes)
        {
            var mh = new byte[2 + encoded.Length];
            mh[0] = (byte)IdentityCode;
            mh[1] = (byte)encoded.Length;
            encoded.CopyTo(mh, 2);
            return new PeerId(mh);
        }
        var digest = SHA256.HashData(encoded);
        var sha = new byte[2 + digest.Length];
        sha[0] = (byte)Sha256Code;
        sha[1] = (byte)digest.Length;
        digest.CopyTo(sha, 2);
        return new PeerId(sha);
    }

    /// <summary>Validates and wraps multihash bytes (identity or sha2-256).</summary>
    public static PeerId FromMultihash(ReadOnlySpan<byte> multihash)
    {
        if (multihash.Length > MaxMultihashBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "multihash too long");
        }
        try
        {
            var code = Varint.Read(multihash, out var codeBytes);
            var length = Varint.Read(multihash[codeBytes..], out var lengthBytes);
            var digestLength = multihash.Length - codeBytes - lengthBytes;
            if (length != (ulong)digestLength)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidPeerId,
                    $"multihash says {length} digest bytes but has {digestLength}");
            }
            var valid = code switch
            {
                IdentityCode => digestLength > 0,
                Sha256Code => digestLength == 32,
                _ => false,
            };
            if (!valid)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, $"unsupported multihash code 0x{code:x} / length {digestLength}");
            }
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidVarint)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "malformed multihash", e);
        }
        return new PeerId(multihash.ToArray());
    }

    /// <summary>
    /// Parses either text form: base58btc (<c>12D3KooW…</c>, <c>Qm…</c>, <c>1…</c>) or a multibase CIDv1 with the
    /// libp2p-key codec (<c>bafz…</c>, or base58 <c>z…</c>).
    /// </summary>
    public static PeerId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "empty peer ID");
        }
        if (text[0] == '1' || text.StartsWith("Qm", StringComparison.Ordinal))
        {
            return FromMultihash(Base58.Decode(text));
        }
        var cid = text[0] switch
        {
            'b' => Base32.Decode(text.AsSpan(1)),
            'z' => Base58.Decode(text[1..]),
            _ => throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, $"unsupported multibase prefix '{text[0]}'"),
        };
        return FromCid(cid);
    }

    /// <summary>Like <see cref="Parse"/> but returns false instead of throwing.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out PeerId? peerId)
    {
        peerId = null;
        if (text is null)
        {
            return false;
        }
        try
        {
            peerId = Parse(text);
            return true;
        }
        catch (ProtocolException)
        {
            return false;
        }
    }

    /// <summary>The embedded public key of an identity-multihash peer ID; false for hashed (sha2-256) IDs.</summary>
    public bool TryGetPublicKey([NotNullWhen(true)] out PublicKey? key)
    {
        key = null;
        if (_multihash[0] != IdentityCode)
        {
            return false;
        }
        try
        {
            key = PublicKey.FromProtobuf(_multihash.AsSpan(2));
            return true;
        }
        catch (ProtocolException)
        {
            return false;
        }
    }

    /// <summary>True if <paramref name="key"/> is the key this ID was derived from.</summary>
    public bool Matches(PublicKey key) => Equals(FromPublicKey(key));

    /// <summary>A copy of the multihash bytes.</summary>
    public byte[] ToByteArray() => (byte[])_multihash.Clone();

    /// <summary>The CIDv1 form: multibase 'b' + base32 of <c>01 72 ‖ multihash</c>.</summary>
    public string ToCidString()
    {
        var cid = new byte[2 + _multihash.Length];
        cid[0] = (byte)CidVersion1;
        cid[1] = (byte)LibP2PKeyCodec;
        _multihash.CopyTo(cid, 2);
        return "b" + Base32.Encode(cid);
    }

    /// <summary>The legacy base58btc form (<c>12D3KooW…</c>), which is how peer IDs are printed.</summary>
    public override string ToString() => _text ??= Base58.Encode(_multihash);

    /// <inheritdoc />
    public bool Equals(PeerId? other) => other is not null && other._hash == _hash && other._multihash.AsSpan().SequenceEqual(_multihash);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as PeerId);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <summary>Value equality.</summary>
    public static bool operator ==(PeerId? left, PeerId? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(PeerId? left, PeerId? right) => !(left == right);

    private static PeerId FromCid(ReadOnlySpan<byte> cid)
    {
        try
        {
            var version = Varint.Read(cid, out var versionBytes);
            var codec = Varint.Read(cid[versionBytes..], out var codecBytes);
            if (version != CidVersion1 || codec != LibP2PKeyCodec)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidPeerId,
                    $"CID version {version} codec 0x{codec:x} is not a CIDv1 libp2p-key");
            }
            return FromMultihash(cid[(versionBytes + codecBytes)..]);
        }
        catch (ProtocolException e) when (e.Code == ProtocolErrorCode.InvalidVarint)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "malformed CID", e);
        }
    }
}
