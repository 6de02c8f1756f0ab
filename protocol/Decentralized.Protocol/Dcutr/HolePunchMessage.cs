using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Dcutr;

/// <summary>DCUtR message types (wire values from the spec).</summary>
public enum HolePunchType
{
    /// <summary>Carries the sender's observed addresses.</summary>
    Connect = 100,
    /// <summary>Tells the other side to dial now.</summary>
    Sync = 300,
}

/// <summary>
/// DCUtR (<c>/libp2p/dcutr</c>, libp2p/specs relay/DCUtR.md), uvarint length-prefixed, at most 4 KiB:
/// <code>
///   HolePunch { required Type type = 1 (CONNECT=100, SYNC=300); repeated bytes ObsAddrs = 2; }
/// </code>
/// Unparseable addresses are dropped; at most <see cref="PeerAddressInfo.MaxAddresses"/> are kept.
/// </summary>
public sealed record HolePunchMessage(HolePunchType Type, IReadOnlyList<Multiaddr> ObservedAddresses)
{
    /// <summary>The protocol ID.</summary>
    public const string ProtocolId = "/libp2p/dcutr";

    /// <summary>The spec: refuse messages larger than 4 KiB.</summary>
    public const int MaxMessageBytes = 4096;

    /// <summary>Encodes the message (without the length prefix).</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(64);
        writer.WriteVarint(1, (ulong)Type);
        foreach (var address in ObservedAddresses)
        {
            writer.WriteBytes(2, address.ToBytes());
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a message; a missing or unknown type throws <see cref="ProtocolException"/>.</summary>
    public static HolePunchMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"DCUtR message of {data.Length} bytes");
        }
        var reader = new ProtobufReader(data);
        ulong? type = null;
        var addresses = new List<Multiaddr>();
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1)
            {
                ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                type = reader.ReadVarint();
            }
            else if (field == 2)
            {
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
                        // Unknown transport (e.g. a QUIC address from another implementation): not ours to dial.
                    }
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return type switch
        {
            (ulong)HolePunchType.Connect => new HolePunchMessage(HolePunchType.Connect, addresses),
            (ulong)HolePunchType.Sync => new HolePunchMessage(HolePunchType.Sync, addresses),
            null => throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "DCUtR message has no type"),
            _ => throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"unknown DCUtR message type {type}"),
        };
    }
}
