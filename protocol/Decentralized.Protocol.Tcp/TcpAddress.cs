using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;

namespace Decentralized.Protocol.Tcp;

/// <summary>The dialable part of a TCP multiaddr: <c>/ip4|ip6|dns|dns4|dns6/&lt;host&gt;/tcp/&lt;port&gt;[/p2p/&lt;id&gt;]</c>.</summary>
internal readonly record struct TcpAddress(string Host, IPAddress? Ip, AddressFamily Family, int Port)
{
    public static TcpAddress Parse(Multiaddr address)
    {
        var c = address.Components;
        var valid = c.Count >= 2 && c[1].Protocol == MultiaddrProtocol.Tcp
            && (c.Count == 2 || (c.Count == 3 && c[2].Protocol == MultiaddrProtocol.P2p));
        if (!valid)
        {
            throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{address} is not a TCP address");
        }
        var port = BinaryPrimitives.ReadUInt16BigEndian(c[1].Value.Span);
        var host = c[0].Protocol;
        if (host == MultiaddrProtocol.Ip4 || host == MultiaddrProtocol.Ip6)
        {
            var ip = new IPAddress(c[0].Value.Span);
            return new TcpAddress(ip.ToString(), ip, ip.AddressFamily, port);
        }
        var family = host == MultiaddrProtocol.Dns4 ? AddressFamily.InterNetwork
            : host == MultiaddrProtocol.Dns6 ? AddressFamily.InterNetworkV6
            : host == MultiaddrProtocol.Dns ? AddressFamily.Unspecified
            : throw new ProtocolException(ProtocolErrorCode.DialFailed, $"{address}: cannot dial {host.Name}");
        return new TcpAddress(c[0].ValueText, null, family, port);
    }

    public static bool IsDialable(Multiaddr address)
    {
        try
        {
            Parse(address);
            return true;
        }
        catch (ProtocolException)
        {
            return false;
        }
    }

    public static Multiaddr FromEndPoint(IPEndPoint endPoint)
    {
        var ip = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var protocol = ip.AddressFamily == AddressFamily.InterNetwork ? "ip4" : "ip6";
        return Multiaddr.Parse($"/{protocol}/{ip}/tcp/{endPoint.Port}");
    }
}
