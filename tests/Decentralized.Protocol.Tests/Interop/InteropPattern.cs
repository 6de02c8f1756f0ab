using System.Buffers.Binary;

namespace Decentralized.Protocol.Tests.Interop;

/// <summary>The interop peer's deterministic payload: xorshift32 (13, 17, 5) from 0x9E3779B9, words little-endian.</summary>
internal static class InteropPattern
{
    public static byte[] Generate(int length)
    {
        var data = new byte[length];
        var state = 0x9E3779B9u;
        Span<byte> word = stackalloc byte[4];
        for (var i = 0; i < length; i += 4)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            BinaryPrimitives.WriteUInt32LittleEndian(word, state);
            word[..Math.Min(4, length - i)].CopyTo(data.AsSpan(i));
        }
        return data;
    }
}
