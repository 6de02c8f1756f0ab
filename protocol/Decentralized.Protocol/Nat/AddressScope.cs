using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Decentralized.Protocol.Addressing;

namespace Decentralized.Protocol.Nat;

/// <summary>
/// Where an address can be reached from: the same host (loopback), the same site (RFC 1918, CGNAT, link-local, ULA),
/// or anywhere. Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24) count as public so that tests can
/// simulate the internet with them.
/// </summary>
public static class AddressScope
{
    /// <summary>The IP address of an <c>/ip4</c> or <c>/ip6</c> address, or null (DNS names, circuits).</summary>
    public static IPAddress? IpOf(Multiaddr address)
    {
        var first = address.Components[0];
        return first.Protocol == MultiaddrProtocol.Ip4 || first.Protocol == MultiaddrProtocol.Ip6 ? new IPAddress(first.Value.Span) : null;
    }

    /// <summary>The TCP port of <c>/…/tcp/&lt;port&gt;</c> right after the host, or null.</summary>
    public static int? TcpPortOf(Multiaddr address) =>
        address.Components.Count >= 2 && address.Components[1].Protocol == MultiaddrProtocol.Tcp
            ? BinaryPrimitives.ReadUInt16BigEndian(address.Components[1].Value.Span)
            : null;

    /// <summary>True for a relayed (<c>/p2p-circuit</c>) address.</summary>
    public static bool IsCircuit(Multiaddr address) => address.Has(MultiaddrProtocol.P2pCircuit);

    /// <summary>True for 0.0.0.0 and ::.</summary>
    public static bool IsUnspecified(IPAddress ip) => ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);

    /// <summary>True if <paramref name="ip"/> can be reached from the internet at large (not loopback, private or link-local).</summary>
    public static bool IsPublic(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }
        if (IPAddress.IsLoopback(ip) || IsUnspecified(ip))
        {
            return false;
        }
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return !(b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && (b[1] & 0xC0) == 64) || b[0] >= 224 || b[0] == 0);
        }
        var v6 = ip.GetAddressBytes();
        return !(ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6Multicast || (v6[0] & 0xFE) == 0xFC);
    }

    /// <summary>
    /// Why <paramref name="address"/> cannot be announced to other peers, or null if it can: it must be an IP or DNS
    /// TCP address (optionally a circuit through a relay) with a non-zero port and a specific, non-loopback host.
    /// </summary>
    public static string? WhyNotAnnounceable(Multiaddr address)
    {
        if (IsCircuit(address))
        {
            return address.GetPeerId() is null ? "a /p2p-circuit address must name the relay with /p2p/<relay id>" : null;
        }
        var port = TcpPortOf(address);
        if (port is null)
        {
            return "not a TCP address (expected /ip4/<ip>/tcp/<port>, /ip6/… or /dns4/<name>/tcp/<port>)";
        }
        if (port == 0)
        {
            return "port 0 is chosen by the system at bind time and cannot be dialed; announce the real port";
        }
        if (IpOf(address) is { } ip)
        {
            if (IsUnspecified(ip))
            {
                return $"{ip} means \"every interface\" and cannot be dialed; announce this machine's public IP";
            }
            if (IPAddress.IsLoopback(ip))
            {
                return $"{ip} is loopback and only reachable from this machine; announce this machine's public IP";
            }
        }
        return null;
    }
}
