using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Relay;

/// <summary>
/// A granted relay slot.
/// <code>
///   Reservation { optional uint64 expire = 1 (UTC UNIX seconds); repeated bytes addrs = 2; optional bytes voucher = 3; }
/// </code>
/// <see cref="Addresses"/> are the relay's public addresses with its /p2p/ id (the client appends /p2p-circuit). The
/// voucher (a signed envelope) is advisory in the spec; it is kept as opaque bytes, bounded by the message limit.
/// </summary>
public sealed record RelayReservation(ulong ExpireUnixSeconds, IReadOnlyList<Multiaddr> Addresses, byte[]? Voucher = null)
{
    /// <summary>Encodes the sub-message body.</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(128);
        writer.WriteVarint(1, ExpireUnixSeconds);
        foreach (var address in Addresses)
        {
            writer.WriteBytes(2, address.ToBytes());
        }
        if (Voucher is not null)
        {
            writer.WriteBytes(3, Voucher);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes the sub-message body; unparseable addresses are dropped, at most <see cref="PeerAddressInfo.MaxAddresses"/> kept.</summary>
    public static RelayReservation Decode(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        ulong expire = 0;
        var addresses = new List<Multiaddr>();
        byte[]? voucher = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                    expire = reader.ReadVarint();
                    break;
                case 2:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    var bytes = reader.ReadBytes();
                    if (addresses.Count < PeerAddressInfo.MaxAddresses)
                    {
                        try
                        {
                            addresses.Add(Multiaddr.FromBytes(bytes));
                        }
                        catch (ProtocolException)
                        {
                            // An address with a protocol we do not know: skip it, keep the others.
                        }
                    }
                    break;
                case 3:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    voucher = reader.ReadBytes().ToArray();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        return new RelayReservation(expire, addresses, voucher);
    }
}
