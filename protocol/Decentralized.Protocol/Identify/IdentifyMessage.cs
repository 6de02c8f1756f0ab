using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Identify;

/// <summary>
/// The identify message (<c>/ipfs/id/1.0.0</c>; push: <c>/ipfs/id/push/1.0.0</c>), sent uvarint length-prefixed, at most
/// 8 KiB, after which the responder half-closes.
/// <code>
///   Identify { optional bytes publicKey = 1; repeated bytes listenAddrs = 2; repeated string protocols = 3;
///              optional bytes observedAddr = 4; optional string protocolVersion = 5; optional string agentVersion = 6;
///              optional bytes signedPeerRecord = 8 (skipped) }
/// </code>
/// Addresses that fail to parse (unknown protocols) are dropped rather than failing the whole message.
/// </summary>
public sealed record IdentifyMessage
{
    /// <summary>The identify protocol ID.</summary>
    public const string ProtocolId = "/ipfs/id/1.0.0";

    /// <summary>The identify-push protocol ID.</summary>
    public const string PushProtocolId = "/ipfs/id/push/1.0.0";

    /// <summary>Largest identify message (js's MAX_IDENTIFY_MESSAGE_SIZE).</summary>
    public const int MaxMessageBytes = 8 * 1024;

    /// <summary>Most messages read from one identify stream before it is cut off (js reads up to 10 and merges them).</summary>
    public const int MaxMessagesPerStream = 10;

    /// <summary>Protocol family and version, e.g. <c>ipfs/0.1.0</c>.</summary>
    public string? ProtocolVersion { get; init; }

    /// <summary>Implementation name and version.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>The sender's identity key.</summary>
    public PublicKey? PublicKey { get; init; }

    /// <summary>Addresses the sender listens on.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses { get; init; } = [];

    /// <summary>The address the sender sees us connecting from.</summary>
    public Multiaddr? ObservedAddress { get; init; }

    /// <summary>Protocols the sender serves.</summary>
    public IReadOnlyList<string> Protocols { get; init; } = [];

    /// <summary>Encodes the message (without the length prefix).</summary>
    public byte[] Encode()
    {
        var writer = new ProtobufWriter(256);
        if (PublicKey is not null)
        {
            writer.WriteBytes(1, PublicKey.ToProtobuf());
        }
        foreach (var address in ListenAddresses)
        {
            writer.WriteBytes(2, address.ToBytes());
        }
        foreach (var protocol in Protocols)
        {
            writer.WriteString(3, protocol);
        }
        if (ObservedAddress is not null)
        {
            writer.WriteBytes(4, ObservedAddress.ToBytes());
        }
        if (ProtocolVersion is not null)
        {
            writer.WriteString(5, ProtocolVersion);
        }
        if (AgentVersion is not null)
        {
            writer.WriteString(6, AgentVersion);
        }
        return writer.ToArray();
    }

    /// <summary>Decodes a message; malformed protobuf throws, unparseable addresses or keys are dropped.</summary>
    public static IdentifyMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageBytes)
        {
            throw new ProtocolException(ProtocolErrorCode.MessageTooLarge, $"identify message of {data.Length} bytes");
        }
        var reader = new ProtobufReader(data);
        var listen = new List<Multiaddr>();
        var protocols = new List<string>();
        PublicKey? key = null;
        Multiaddr? observed = null;
        string? protocolVersion = null, agentVersion = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (wire != ProtobufWireType.LengthDelimited || field is < 1 or > 6)
            {
                reader.Skip(wire);
                continue;
            }
            switch (field)
            {
                case 1: key = TryParse(reader.ReadBytes(), static b => PublicKey.FromProtobuf(b)); break;
                case 2: AddIfValid(listen, TryParse(reader.ReadBytes(), static b => Multiaddr.FromBytes(b))); break;
                case 3: protocols.Add(reader.ReadString()); break;
                case 4: observed = TryParse(reader.ReadBytes(), static b => Multiaddr.FromBytes(b)); break;
                case 5: protocolVersion = reader.ReadString(); break;
                case 6: agentVersion = reader.ReadString(); break;
            }
        }
        return new IdentifyMessage
        {
            PublicKey = key, ListenAddresses = listen, Protocols = protocols, ObservedAddress = observed,
            ProtocolVersion = protocolVersion, AgentVersion = agentVersion,
        };
    }

    /// <summary>Merges a later message into this one (later non-empty fields win), as js does for pushes.</summary>
    public IdentifyMessage Merge(IdentifyMessage later) => new()
    {
        PublicKey = later.PublicKey ?? PublicKey,
        ListenAddresses = later.ListenAddresses.Count > 0 ? later.ListenAddresses : ListenAddresses,
        Protocols = later.Protocols.Count > 0 ? later.Protocols : Protocols,
        ObservedAddress = later.ObservedAddress ?? ObservedAddress,
        ProtocolVersion = later.ProtocolVersion ?? ProtocolVersion,
        AgentVersion = later.AgentVersion ?? AgentVersion,
    };

    private delegate T SpanParser<T>(ReadOnlySpan<byte> bytes);

    private static T? TryParse<T>(ReadOnlySpan<byte> bytes, SpanParser<T> parse) where T : class
    {
        try
        {
            return parse(bytes);
        }
        catch (ProtocolException)
        {
            return null;
        }
    }

    private static void AddIfValid(List<Multiaddr> list, Multiaddr? address)
    {
        if (address is not null)
        {
            list.Add(address);
        }
    }
}
