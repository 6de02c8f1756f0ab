using System.Text;

namespace Decentralized.Protocol.Wire;

/// <summary>
/// Base58btc (bitcoin alphabet), used for legacy peer IDs. Leading zero bytes map to leading '1's.
/// Quadratic in the length, which is fine for the short strings it is used for; inputs are length-capped.
/// </summary>
public static class Base58
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    /// <summary>Longest string <see cref="Decode"/> accepts (peer IDs are 46-52 characters).</summary>
    public const int MaxDecodeLength = 256;

    private static readonly sbyte[] DecodeMap = BuildDecodeMap();

    /// <summary>Encodes bytes as base58btc.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        var zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
        {
            zeros++;
        }
        // log(256)/log(58) ~ 1.366: enough digits for the big-endian number.
        var digits = new byte[(data.Length - zeros) * 138 / 100 + 1];
        var used = 0;
        for (var i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            for (var j = 0; j < used; j++)
            {
                carry += digits[j] << 8;
                digits[j] = (byte)(carry % 58);
                carry /= 58;
            }
            while (carry > 0)
            {
                digits[used++] = (byte)(carry % 58);
                carry /= 58;
            }
        }
        var sb = new StringBuilder(zeros + used);
        sb.Append('1', zeros);
        for (var i = used - 1; i >= 0; i--)
        {
            sb.Append(Alphabet[digits[i]]);
        }
        return sb.ToString();
    }

    /// <summary>Decodes base58btc; throws <see cref="ProtocolException"/> on a bad character or length.</summary>
    public static byte[] Decode(string text)
    {
        if (text.Length > MaxDecodeLength)
        {
            throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, "base58 string too long");
        }
        var zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
        {
            zeros++;
        }
        var bytes = new byte[text.Length]; // little-endian big number
        var used = 0;
        for (var i = zeros; i < text.Length; i++)
        {
            var c = text[i];
            var digit = c < 128 ? DecodeMap[c] : (sbyte)-1;
            if (digit < 0)
            {
                throw new ProtocolException(ProtocolErrorCode.InvalidPeerId, $"invalid base58 character '{c}'");
            }
            int carry = digit;
            for (var j = 0; j < used; j++)
            {
                carry += bytes[j] * 58;
                bytes[j] = (byte)carry;
                carry >>= 8;
            }
            while (carry > 0)
            {
                bytes[used++] = (byte)carry;
                carry >>= 8;
            }
        }
        var result = new byte[zeros + used];
        for (var i = 0; i < used; i++)
        {
            result[zeros + i] = bytes[used - 1 - i];
        }
        return result;
    }

    private static sbyte[] BuildDecodeMap()
    {
        var map = new sbyte[128];
        Array.Fill(map, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++)
        {
            map[Alphabet[i]] = (sbyte)i;
        }
        return map;
    }
}
