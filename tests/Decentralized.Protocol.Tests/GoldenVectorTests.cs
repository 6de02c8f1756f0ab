using System.Text;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Noise;

namespace Decentralized.Protocol.Tests;

/// <summary>The spec's Ed25519 test vectors (LIBP2P.md §2.2): js-libp2p produces the same bytes.</summary>
public sealed class GoldenVectorTests
{
    private const string Seed = "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d";
    private const string PublicKeyProtobuf = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string Multihash = "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string Base58Id = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    private const string CidId = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";
    private const string AddressBinary = "047f000001060fa1a503260024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string Signature = "0d730a9be07200f4bb3a94794b8a5a88d5b53f1801235c5d48fc3fac6b4696aae642e6733ac1dc64bcb09bb154e26a1c48fc3e10663c3c621063a9a55a0c9e0e";

    private static PrivateKey Key => PrivateKey.FromSeed(Convert.FromHexString(Seed));

    [Fact]
    public void PublicKeyProtobufMatchesVector()
        => Assert.Equal(PublicKeyProtobuf, Convert.ToHexStringLower(Key.PublicKey.ToProtobuf()));

    [Fact]
    public void PeerIdMultihashAndTextFormsMatchVector()
    {
        var id = Key.PeerId;
        Assert.Equal(Multihash, Convert.ToHexStringLower(id.Multihash));
        Assert.Equal(Base58Id, id.ToString());
        Assert.Equal(CidId, id.ToCidString());
    }

    [Theory]
    [InlineData(Base58Id)]
    [InlineData(CidId)]
    public void BothTextFormsParseToTheSamePeer(string text)
    {
        var id = PeerId.Parse(text);
        Assert.Equal(Key.PeerId, id);
        Assert.True(id.TryGetPublicKey(out var key));
        Assert.Equal(Key.PublicKey, key);
    }

    [Fact]
    public void MultiaddrBinaryMatchesVector()
    {
        var address = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{Base58Id}");
        Assert.Equal(AddressBinary, Convert.ToHexStringLower(address.ToBytes()));
        var decoded = Multiaddr.FromBytes(Convert.FromHexString(AddressBinary));
        Assert.Equal($"/ip4/127.0.0.1/tcp/4001/p2p/{Base58Id}", decoded.ToString());
        Assert.Equal(Key.PeerId, decoded.GetPeerId());
        Assert.Equal(address, Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/ipfs/{CidId}"));
    }

    [Fact]
    public void NoiseStaticKeySignatureMatchesVector()
    {
        var staticKey = Enumerable.Repeat((byte)0x11, 32).ToArray();
        var message = NoiseHandshake.SignedMessage(staticKey);
        Assert.StartsWith("noise-libp2p-static-key:", Encoding.ASCII.GetString(message));
        var signature = Key.Sign(message);
        Assert.Equal(Signature, Convert.ToHexStringLower(signature));
        Assert.True(Key.PublicKey.Verify(message, signature));
        signature[0] ^= 1;
        Assert.False(Key.PublicKey.Verify(message, signature));
    }

    [Fact]
    public void PrivateKeyProtobufRoundTripsAndAcceptsLegacyForm()
    {
        var encoded = Key.ToProtobuf();
        Assert.Equal("08011240" + Seed + PublicKeyProtobuf[8..], Convert.ToHexStringLower(encoded));
        Assert.Equal(Key.PeerId, PrivateKey.FromProtobuf(encoded).PeerId);
        var legacy = Convert.FromHexString("08011260" + Seed + PublicKeyProtobuf[8..] + PublicKeyProtobuf[8..]);
        Assert.Equal(Key.PeerId, PrivateKey.FromProtobuf(legacy).PeerId);
        legacy[^1] ^= 1;
        var error = Assert.Throws<ProtocolException>(() => PrivateKey.FromProtobuf(legacy));
        Assert.Equal(ProtocolErrorCode.InvalidKey, error.Code);
    }
}
