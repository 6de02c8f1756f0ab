using System.Text;

namespace Decentralized.Protocol.Wire;

/// <summary>RFC 4648 base32, lowercase, without padding: the multibase 'b' encoding used by CIDv1 peer IDs.</summary>
public static class Base32
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Longest string <see cref="Decode"/> accepts.</summary>
    public const int MaxDecodeLength = 512;

    /// <summary>Encodes bytes as lowercase unpadded base32.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder((data.Length * 8 + 4) / 5);
        var buffer = 0;
        var bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0)
        {
            sb.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }
        return sb.ToString();
    }

    /// <summary>Decodes lowercase (or uppercase) unpadded base32; throws on bad characters or trailing bits.</summary>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        if (text.Length > MaxDecodeLength)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "base32 string too long");
        }
        var result = new byte[text.Length * 5 / 8];
        var buffer = 0;
        var bits = 0;
        var index = 0;
        foreach (var c in text)
        {
            var value = c switch
            {
                >= 'a' and <= 'z' => c - 'a',
                >= 'A' and <= 'Z' => c - 'A',
                >= '2' and <= '7' => c - '2' + 26,
                _ => throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, $"invalid base32 character '{c}'"),
            };
            buffer = ((buffer << 5) | value) & 0xFFF;
            bits += 5;
            if (bits >= 8)
            {
                result[index++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }
        if (bits >= 5 || (buffer & ((1 << bits) - 1)) != 0)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "base32 string has invalid trailing bits");
        }
        return result;
    }
}
