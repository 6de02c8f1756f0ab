using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Nat;

/// <summary>
/// A peer ID with addresses, the sub-message AutoNAT (<c>PeerInfo</c>) and circuit relay v2 (<c>Peer</c>) share:
/// <code>
///   PeerInfo { optional bytes id = 1; repeated bytes addrs = 2; }
/// </code>
/// Addresses that do not parse (protocols we do not know) are dropped, not fatal; at most
/// <see cref="MaxAddresses"/> are kept so a hostile list cannot grow our memory or our dial queue.
/// </summary>
public sealed record PeerAddressInfo(PeerId? Id, IReadOnlyList<Multiaddr> Addresses)
{
    /// <summary>Addresses kept from one message; the rest are ignored.</summary>
    public const int MaxAddresses = 16;

    /// <summary>Encodes the sub-message body.</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(64);
        if (Id is not null)
        {
            writer.WriteBytes(1, Id.ToByteArray());
        }
        foreach (var address in Addresses)
        {
            writer.WriteBytes(2, address.ToBytes());
        }
        return writer.ToArray();
    }

    /// <summary>Decodes the sub-message body; a malformed peer ID throws <see cref="ProtocolException"/>.</summary>
    public static PeerAddressInfo Decode(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        PeerId? id = null;
        var addresses = new List<Multiaddr>();
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field is 1 or 2)
            {
                ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
            }
            switch (field)
            {
                case 1:
                    id = PeerId.FromMultihash(reader.ReadBytes());
                    break;
                case 2:
                    var bytes = reader.ReadBytes();
                    if (addresses.Count < MaxAddresses && TryParse(bytes) is { } address)
                    {
                        addresses.Add(address);
                    }
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        return new PeerAddressInfo(id, addresses);
    }

    private static Multiaddr? TryParse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return Multiaddr.FromBytes(bytes);
        }
        catch (ProtocolException)
        {
            return null;
        }
    }
}
