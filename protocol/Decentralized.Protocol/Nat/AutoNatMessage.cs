using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Nat;

/// <summary>
/// AutoNAT v1 (<c>/libp2p/autonat/1.0.0</c>, libp2p/specs autonat/autonat-v1.md): one uvarint length-prefixed request,
/// one response, on a fresh stream.
/// <code>
///   Message      { optional MessageType type = 1 (DIAL=0, DIAL_RESPONSE=1);
///                  optional Dial dial = 2; optional DialResponse dialResponse = 3; }
///   Dial         { optional PeerInfo peer = 1; }
///   DialResponse { optional ResponseStatus status = 1; optional string statusText = 2; optional bytes addr = 3; }
/// </code>
/// Requests carry <see cref="Dial"/>; responses carry <see cref="Status"/>, <see cref="StatusText"/> and <see cref="Address"/>.
/// </summary>
public sealed record AutoNatMessage
{
    /// <summary>The protocol ID.</summary>
    public const string ProtocolId = "/libp2p/autonat/1.0.0";

    /// <summary>Largest message accepted (a request lists at most a few addresses; go and js use 4 KiB too).</summary>
    public const int MaxMessageBytes = 4096;

    /// <summary>Longest status text kept from a response (it is only logged).</summary>
    public const int MaxStatusTextChars = 256;

    /// <summary>True for a DIAL request, false for a DIAL_RESPONSE.</summary>
    public bool IsDial { get; init; }

    /// <summary>The requester and the addresses it asks to be dialed on (requests only).</summary>
    public PeerAddressInfo? Dial { get; init; }

    /// <summary>The outcome (responses only).</summary>
    public AutoNatStatus Status { get; init; }

    /// <summary>Human-readable reason (responses only).</summary>
    public string? StatusText { get; init; }

    /// <summary>The address that was dialed successfully (responses with <see cref="AutoNatStatus.Ok"/>).</summary>
    public Multiaddr? Address { get; init; }

    /// <summary>A DIAL request for <paramref name="peer"/>.</summary>
    public static AutoNatMessage DialRequest(PeerAddressInfo peer) => new() { IsDial = true, Dial = peer };

    /// <summary>A DIAL_RESPONSE.</summary>
    public static AutoNatMessage DialResponse(AutoNatStatus status, string? text, Multiaddr? address = null) =>
        new() { IsDial = false, Status = status, StatusText = text, Address = address };

    /// <summary>Encodes the message (without the length prefix).</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(128);
        writer.WriteVarint(1, IsDial ? 0UL : 1UL);
        if (IsDial)
        {
            var dial = new ProtobufWriter(64).WriteBytes(1, (Dial ?? new PeerAddressInfo(null, [])).Encode());
            writer.WriteBytes(2, dial.WrittenSpan);
        }
        else
        {
            var response = new ProtobufWriter(64).WriteVarint(1, (ulong)Status);
            if (StatusText is not null)
            {
                response.WriteString(2, StatusText);
            }
            if (Address is not null)
            {
                response.WriteBytes(3, Address.ToBytes());
            }
            writer.WriteBytes(3, response.WrittenSpan);
        }
        return writer.ToArray();
    }

    /// <summary>
    /// Decodes a message. Throws <see cref="ProtocolException"/> (InvalidProtobuf) when it is too large, truncated, has no
    /// type, or lacks the part its type requires; unknown fields are skipped.
    /// </summary>
    public static AutoNatMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"AutoNAT message of {data.Length} bytes");
        }
        var reader = new ProtobufReader(data);
        ulong? type = null;
        PeerAddressInfo? dial = null;
        AutoNatMessage? response = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                    type = reader.ReadVarint();
                    break;
                case 2:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    dial = DecodeDial(reader.ReadBytes());
                    break;
                case 3:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    response = DecodeResponse(reader.ReadBytes());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        return type switch
        {
            0 when dial is not null => DialRequest(dial),
            1 when response is not null => response,
            0 or 1 => throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "AutoNAT message lacks its dial or dialResponse part"),
            null => throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "AutoNAT message has no type"),
            _ => throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, $"unknown AutoNAT message type {type}"),
        };
    }

    private static PeerAddressInfo DecodeDial(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        var peer = new PeerAddressInfo(null, []);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1)
            {
                ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                peer = PeerAddressInfo.Decode(reader.ReadBytes());
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return peer;
    }

    private static AutoNatMessage DecodeResponse(ReadOnlySpan<byte> data)
    {
        var reader = new ProtobufReader(data);
        AutoNatStatus status = AutoNatStatus.InternalError;
        string? text = null;
        Multiaddr? address = null;
        var sawStatus = false;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    ProtobufReader.Expect(wire, ProtobufWireType.Varint, field);
                    var value = reader.ReadVarint();
                    status = Enum.IsDefined(typeof(AutoNatStatus), (int)Math.Min(value, int.MaxValue)) ? (AutoNatStatus)(int)value : AutoNatStatus.InternalError;
                    sawStatus = true;
                    break;
                case 2:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    var s = reader.ReadString();
                    text = s.Length > MaxStatusTextChars ? s[..MaxStatusTextChars] : s;
                    break;
                case 3:
                    ProtobufReader.Expect(wire, ProtobufWireType.LengthDelimited, field);
                    address = Multiaddr.FromBytes(reader.ReadBytes());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (!sawStatus)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidProtobuf, "AutoNAT response has no status");
        }
        return DialResponse(status, text, address);
    }
}
