using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identify;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Tests;

public sealed class WireCodecTests
{
    [Theory]
    [InlineData(0ul, "00")]
    [InlineData(1ul, "01")]
    [InlineData(127ul, "7f")]
    [InlineData(128ul, "8001")]
    [InlineData(300ul, "ac02")]
    [InlineData(0x1a5ul, "a503")]
    [InlineData(16383ul, "ff7f")]
    public void VarintsAreMinimalLeb128(ulong value, string hex)
    {
        Assert.Equal(hex, Convert.ToHexStringLower(Varint.Encode(value)));
        Assert.Equal(value, Varint.Read(Convert.FromHexString(hex), out var read));
        Assert.Equal(hex.Length / 2, read);
    }

    [Theory]
    [InlineData("8000")]                 // padded zero: not minimal
    [InlineData("ffffffffffffffffff01")] // 10 bytes: beyond the multiformats limit
    public void MalformedVarintsAreRefused(string hex)
        => Assert.Equal(ProtocolErrorCode.InvalidVarint, Assert.Throws<ProtocolException>(() => Varint.Read(Convert.FromHexString(hex), out _)).Code);

    [Fact]
    public void TruncatedVarintAsksForMoreBytes()
        => Assert.False(Varint.TryRead(new byte[] { 0x80 }, out _, out _));

    [Fact]
    public void ProtobufLengthBeyondTheMessageIsRefused()
    {
        var error = Assert.Throws<ProtocolException>(() => IdentifyMessage.Decode(Convert.FromHexString("2a7f41")));
        Assert.Equal(ProtocolErrorCode.InvalidProtobuf, error.Code);
    }

    [Fact]
    public void IdentifySkipsUnknownFieldsAndBadAddresses()
    {
        var message = new IdentifyMessage { AgentVersion = "a", Protocols = ["/x"], ListenAddresses = [Multiaddr.Parse("/ip4/1.2.3.4/tcp/1")] }.Encode();
        // Append a signedPeerRecord (field 8) and an address with an unknown protocol code, as js may send.
        byte[] extra = [0x42, 0x03, 1, 2, 3, 0x12, 0x03, 0xff, 0x7f, 0x00];
        var decoded = IdentifyMessage.Decode([.. message, .. extra]);
        Assert.Equal("a", decoded.AgentVersion);
        Assert.Equal(["/x"], decoded.Protocols);
        Assert.Single(decoded.ListenAddresses);
    }

    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001")]
    [InlineData("/ip6/::1/tcp/4001")]
    [InlineData("/ip6/2001:db8::1/udp/53/quic-v1")]
    [InlineData("/dns4/example.com/tcp/443/wss")]
    [InlineData("/dns/node.local/tcp/1")]
    [InlineData("/dns6/x.y/tcp/2")]
    [InlineData("/ip4/10.0.0.1/tcp/80/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq/p2p-circuit")]
    public void MultiaddrTextAndBinaryRoundTrip(string text)
    {
        var address = Multiaddr.Parse(text);
        Assert.Equal(text, address.ToString());
        Assert.Equal(address, Multiaddr.FromBytes(address.ToBytes()));
    }

    [Theory]
    [InlineData("ip4/1.2.3.4")]
    [InlineData("/ip4/1.2.3")]
    [InlineData("/ip4/1.2.3.256")]
    [InlineData("/ip4/01.2.3.4")]
    [InlineData("/tcp/65536")]
    [InlineData("/tcp/-1")]
    [InlineData("/ip6/1.2.3.4")]
    [InlineData("/ip6/fe80::1%eth0")]
    [InlineData("/unknown/1")]
    [InlineData("/p2p/notapeerid")]
    [InlineData("/ip4")]
    public void InvalidMultiaddrTextIsRefused(string text)
        => Assert.Equal(ProtocolErrorCode.InvalidMultiaddr, Assert.Throws<ProtocolException>(() => Multiaddr.Parse(text)).Code);

    [Fact]
    public void PeerIdHelpersOnAddresses()
    {
        var id = PeerId.Parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
        var bare = Multiaddr.Parse("/ip4/1.2.3.4/tcp/5");
        var full = bare.WithPeerId(id);
        Assert.Equal(id, full.GetPeerId());
        Assert.Equal(bare, full.WithoutPeerId());
        Assert.Null(bare.GetPeerId());
    }

    [Theory]
    [InlineData("")]
    [InlineData("12D3KooW0000")]              // '0' is not base58
    [InlineData("bafkreigh2akiscaildc")]       // CID with a non-libp2p-key codec
    [InlineData("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")] // sha256 of a key: valid form
    public void PeerIdParsingValidates(string text)
    {
        if (text.StartsWith("Qm"))
        {
            var id = PeerId.Parse(text);
            Assert.Equal(text, id.ToString());
            Assert.False(id.TryGetPublicKey(out _));
            return;
        }
        Assert.False(PeerId.TryParse(text, out _));
    }

    [Theory]
    [InlineData(new byte[0], "")]
    [InlineData(new byte[] { 0 }, "1")]
    [InlineData(new byte[] { 0, 0, 1 }, "112")]
    [InlineData(new byte[] { 0xff }, "5Q")]
    public void Base58HandlesLeadingZeros(byte[] data, string text)
    {
        Assert.Equal(text, Base58.Encode(data));
        Assert.Equal(data, Base58.Decode(text));
    }

    [Fact]
    public void Base32RoundTripsRandomData()
    {
        var random = new Random(32);
        for (var length = 0; length < 64; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(data, Base32.Decode(Base32.Encode(data)));
        }
    }
}
