using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Relay;

/// <summary>Hop message types.</summary>
public enum HopMessageType
{
    /// <summary>Ask the relay for a slot.</summary>
    Reserve = 0,
    /// <summary>Ask the relay to connect us to a peer holding a slot.</summary>
    Connect = 1,
    /// <summary>The relay's answer.</summary>
    Status = 2,
}

/// <summary>
/// Circuit relay v2 hop protocol (<c>/libp2p/circuit/relay/0.2.0/hop</c>), spoken between a client and the relay,
/// uvarint length-prefixed:
/// <code>
///   HopMessage { optional Type type = 1; optional Peer peer = 2; optional Reservation reservation = 3;
///                optional Limit limit = 4; optional Status status = 5; }
/// </code>
/// A missing or unknown type is malformed (the relay answers MALFORMED_MESSAGE and closes only that stream).
/// </summary>
public sealed record HopMessage(HopMessageType Type, PeerAddressInfo? Peer = null, RelayReservation? Reservation = null,
    RelayLimit? Limit = null, RelayStatus? Status = null)
{
    /// <summary>The protocol ID.</summary>
    public const string ProtocolId = "/libp2p/circuit/relay/0.2.0/hop";

    /// <summary>Largest message accepted (go and js use 4 KiB).</summary>
    public const int MaxMessageBytes = 4096;

    /// <summary>Encodes the message (without the length prefix).</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(128);
        writer.WriteVarint(1, (ulong)Type);
        if (Peer is not null)
        {
            writer.WriteBytes(2, Peer.Encode());
        }
        if (Reservation is not null)
        {
            writer.WriteBytes(3, Reservation.Encode());
        }
        if (Limit is not null)
        {
            writer.WriteBytes(4, Limit.Encode());
        }
        if (Status is { } status)
        {
            writer.WriteVarint(5, (ulong)status);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a message; malformed input throws <see cref="ProtocolException"/>.</summary>
    public static HopMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"hop message of {data.Length} bytes");
        }
        var reader = new ProtobufReader(data);
        ulong? type = null;
        PeerAddressInfo? peer = null;
        RelayReservation? reservation = null;
        RelayLimit? limit = null;
        RelayStatus? status = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: type = RelayWire.ReadVarint(ref reader, wire, field); break;
                case 2: peer = PeerAddressInfo.Decode(RelayWire.ReadBytes(ref reader, wire, field)); break;
                case 3: reservation = RelayReservation.Decode(RelayWire.ReadBytes(ref reader, wire, field)); break;
                case 4: limit = RelayLimit.Decode(RelayWire.ReadBytes(ref reader, wire, field)); break;
                case 5: status = RelayWire.ToStatus(RelayWire.ReadVarint(ref reader, wire, field)); break;
                default: reader.Skip(wire); break;
            }
        }
        var known = type is <= (ulong)HopMessageType.Status
            ? (HopMessageType)type.Value
            : throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, type is null ? "hop message has no type" : $"unknown hop message type {type}");
        return new HopMessage(known, peer, reservation, limit, status);
    }
}
