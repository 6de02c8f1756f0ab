using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Relay;

/// <summary>Stop message types.</summary>
public enum StopMessageType
{
    /// <summary>The relay announces an incoming relayed connection.</summary>
    Connect = 0,
    /// <summary>The target's answer.</summary>
    Status = 1,
}

/// <summary>
/// Circuit relay v2 stop protocol (<c>/libp2p/circuit/relay/0.2.0/stop</c>), spoken between the relay and the target
/// of a relayed connection, uvarint length-prefixed:
/// <code>
///   StopMessage { optional Type type = 1; optional Peer peer = 2; optional Limit limit = 3; optional Status status = 4; }
/// </code>
/// </summary>
public sealed record StopMessage(StopMessageType Type, PeerAddressInfo? Peer = null, RelayLimit? Limit = null, RelayStatus? Status = null)
{
    /// <summary>The protocol ID.</summary>
    public const string ProtocolId = "/libp2p/circuit/relay/0.2.0/stop";

    /// <summary>Largest message accepted.</summary>
    public const int MaxMessageBytes = 4096;

    /// <summary>Encodes the message (without the length prefix).</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(96);
        writer.WriteVarint(1, (ulong)Type);
        if (Peer is not null)
        {
            writer.WriteBytes(2, Peer.Encode());
        }
        if (Limit is not null)
        {
            writer.WriteBytes(3, Limit.Encode());
        }
        if (Status is { } status)
        {
            writer.WriteVarint(4, (ulong)status);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a message; malformed input throws <see cref="ProtocolException"/>.</summary>
    public static StopMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"stop message of {data.Length} bytes");
        }
        var reader = new ProtobufReader(data);
        ulong? type = null;
        PeerAddressInfo? peer = null;
        RelayLimit? limit = null;
        RelayStatus? status = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: type = RelayWire.ReadVarint(ref reader, wire, field); break;
                case 2: peer = PeerAddressInfo.Decode(RelayWire.ReadBytes(ref reader, wire, field)); break;
                case 3: limit = RelayLimit.Decode(RelayWire.ReadBytes(ref reader, wire, field)); break;
                case 4: status = RelayWire.ToStatus(RelayWire.ReadVarint(ref reader, wire, field)); break;
                default: reader.Skip(wire); break;
            }
        }
        var known = type is <= (ulong)StopMessageType.Status
            ? (StopMessageType)type.Value
            : throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, type is null ? "stop message has no type" : $"unknown stop message type {type}");
        return new StopMessage(known, peer, limit, status);
    }
}
