using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Wire;

namespace Decentralized.Protocol.Addressing;

/// <summary>Converts a component value between its text and binary forms, validating both directions.</summary>
internal static class MultiaddrValueCodec
{
    private const int MaxDnsNameBytes = 255;

    public static byte[] FromText(MultiaddrProtocol protocol, string text)
    {
        return protocol.Name switch
        {
            "ip4" => ParseIp4(text),
            "ip6" => ParseIp6(text),
            "tcp" or "udp" => ParsePort(text),
            "dns" or "dns4" or "dns6" or "dnsaddr" => ValidateDns(Encoding.UTF8.GetBytes(text)),
            "p2p" => PeerIdFromText(text),
            _ => throw Invalid($"protocol {protocol.Name} takes no value"),
        };
    }

    public static string ToText(MultiaddrProtocol protocol, ReadOnlySpan<byte> value)
    {
        return protocol.Name switch
        {
            "ip4" => $"{value[0]}.{value[1]}.{value[2]}.{value[3]}",
            "ip6" => new IPAddress(value).ToString(),
            "tcp" or "udp" => BinaryPrimitives.ReadUInt16BigEndian(value).ToString(CultureInfo.InvariantCulture),
            "dns" or "dns4" or "dns6" or "dnsaddr" => Encoding.UTF8.GetString(value),
            "p2p" => PeerId.FromMultihash(value).ToString(),
            _ => string.Empty,
        };
    }

    /// <summary>Checks a binary value read off the wire (fixed sizes were already checked by the caller).</summary>
    public static void ValidateBinary(MultiaddrProtocol protocol, ReadOnlySpan<byte> value)
    {
        switch (protocol.Name)
        {
            case "dns" or "dns4" or "dns6" or "dnsaddr":
                ValidateDns(value.ToArray());
                break;
            case "p2p":
                try
                {
                    PeerId.FromMultihash(value);
                }
                catch (ProtocolException e)
                {
                    throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, "invalid /p2p/ value", e);
                }
                break;
        }
    }

    private static byte[] ParseIp4(string text)
    {
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            throw Invalid($"'{text}' is not a dotted-quad IPv4 address");
        }
        var bytes = new byte[4];
        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || (part.Length > 1 && part[0] == '0')
                || !byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
            {
                throw Invalid($"'{text}' is not a dotted-quad IPv4 address");
            }
        }
        return bytes;
    }

    private static byte[] ParseIp6(string text)
    {
        if (text.Contains('%') || !IPAddress.TryParse(text, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw Invalid($"'{text}' is not an IPv6 address");
        }
        return address.GetAddressBytes();
    }

    private static byte[] ParsePort(string text)
    {
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit)
            || !ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw Invalid($"'{text}' is not a port number");
        }
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, port);
        return bytes;
    }

    private static byte[] ValidateDns(byte[] name)
    {
        if (name.Length is 0 or > MaxDnsNameBytes || name.Contains((byte)'/'))
        {
            throw Invalid("DNS name must be 1-255 bytes without '/'");
        }
        try
        {
            ProtobufReader.StrictUtf8.GetString(name);
        }
        catch (DecoderFallbackException e)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, "DNS name is not valid UTF-8", e);
        }
        return name;
    }

    private static byte[] PeerIdFromText(string text)
    {
        try
        {
            return PeerId.Parse(text).ToByteArray();
        }
        catch (ProtocolException e)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidMultiaddr, $"'{text}' is not a peer ID", e);
        }
    }

    private static ProtocolException Invalid(string message) => new(ProtocolErrorCode.InvalidMultiaddr, message);
}
