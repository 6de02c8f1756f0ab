namespace Decentralized.Protocol.Addressing;

/// <summary>
/// One multiaddr protocol from the multicodec table: its code, text name and value size
/// (<see cref="VariableSize"/> for length-prefixed values, 0 for protocols without a value).
/// </summary>
public sealed class MultiaddrProtocol
{
    /// <summary>Marker for a value that is prefixed with its uvarint length.</summary>
    public const int VariableSize = -1;

    private MultiaddrProtocol(int code, string name, int size)
    {
        Code = code;
        Name = name;
        Size = size;
    }

    /// <summary>The multicodec code.</summary>
    public int Code { get; }

    /// <summary>The text name (<c>ip4</c>, <c>tcp</c>, <c>p2p</c>…).</summary>
    public string Name { get; }

    /// <summary>Value size in bytes, 0 for none, or <see cref="VariableSize"/>.</summary>
    public int Size { get; }

    /// <summary>IPv4 address, 4 bytes.</summary>
    public static readonly MultiaddrProtocol Ip4 = new(0x04, "ip4", 4);
    /// <summary>TCP port, 2 bytes big-endian.</summary>
    public static readonly MultiaddrProtocol Tcp = new(0x06, "tcp", 2);
    /// <summary>UDP port, 2 bytes big-endian.</summary>
    public static readonly MultiaddrProtocol Udp = new(0x0111, "udp", 2);
    /// <summary>IPv6 address, 16 bytes.</summary>
    public static readonly MultiaddrProtocol Ip6 = new(0x29, "ip6", 16);
    /// <summary>DNS name resolved to any address family.</summary>
    public static readonly MultiaddrProtocol Dns = new(0x35, "dns", VariableSize);
    /// <summary>DNS name resolved to IPv4 only.</summary>
    public static readonly MultiaddrProtocol Dns4 = new(0x36, "dns4", VariableSize);
    /// <summary>DNS name resolved to IPv6 only.</summary>
    public static readonly MultiaddrProtocol Dns6 = new(0x37, "dns6", VariableSize);
    /// <summary>DNSADDR name (TXT-record indirection; parsed but not dialed).</summary>
    public static readonly MultiaddrProtocol DnsAddr = new(0x38, "dnsaddr", VariableSize);
    /// <summary>Peer ID multihash; <c>/ipfs/</c> is a text alias.</summary>
    public static readonly MultiaddrProtocol P2p = new(0x01a5, "p2p", VariableSize);
    /// <summary>Relayed connection marker.</summary>
    public static readonly MultiaddrProtocol P2pCircuit = new(0x0122, "p2p-circuit", 0);
    /// <summary>QUIC v1 marker.</summary>
    public static readonly MultiaddrProtocol QuicV1 = new(0x01cd, "quic-v1", 0);
    /// <summary>WebSocket marker.</summary>
    public static readonly MultiaddrProtocol Ws = new(0x01dd, "ws", 0);
    /// <summary>Secure WebSocket marker.</summary>
    public static readonly MultiaddrProtocol Wss = new(0x01de, "wss", 0);
    /// <summary>TLS marker.</summary>
    public static readonly MultiaddrProtocol Tls = new(0x01c0, "tls", 0);
    /// <summary>Noise marker.</summary>
    public static readonly MultiaddrProtocol Noise = new(0x01c6, "noise", 0);

    private static readonly MultiaddrProtocol[] All =
        [Ip4, Tcp, Udp, Ip6, Dns, Dns4, Dns6, DnsAddr, P2p, P2pCircuit, QuicV1, Ws, Wss, Tls, Noise];

    private static readonly Dictionary<int, MultiaddrProtocol> ByCode = All.ToDictionary(p => p.Code);

    private static readonly Dictionary<string, MultiaddrProtocol> ByName = BuildNameMap();

    /// <summary>Looks a protocol up by multicodec code.</summary>
    public static bool TryGetByCode(int code, out MultiaddrProtocol protocol) => ByCode.TryGetValue(code, out protocol!);

    /// <summary>Looks a protocol up by text name (<c>ipfs</c> maps to <see cref="P2p"/>).</summary>
    public static bool TryGetByName(string name, out MultiaddrProtocol protocol) => ByName.TryGetValue(name, out protocol!);

    /// <inheritdoc />
    public override string ToString() => Name;

    private static Dictionary<string, MultiaddrProtocol> BuildNameMap()
    {
        var map = All.ToDictionary(p => p.Name, StringComparer.Ordinal);
        map["ipfs"] = P2p; // legacy text alias, same binary code
        return map;
    }
}
