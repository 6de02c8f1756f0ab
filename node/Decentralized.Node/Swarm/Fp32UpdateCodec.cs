using System.Runtime.InteropServices;

namespace Decentralized.Node.Swarm;

/// <summary>Raw little-endian float32: the uncompressed baseline.</summary>
public sealed class Fp32UpdateCodec : IUpdateCodec
{
    public string Spec => "fp32";
    public bool IsLossless => true;

    public byte[] Encode(ReadOnlySpan<float> values, string stream, int seed) => MemoryMarshal.AsBytes(values).ToArray();

    public void DecodeInto(ReadOnlySpan<byte> blob, Span<float> destination)
    {
        if (blob.Length != destination.Length * sizeof(float))
            throw new SwarmProtocolException($"update has {blob.Length} bytes, expected {destination.Length * sizeof(float)}");
        var values = MemoryMarshal.Cast<byte, float>(blob);
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) throw new SwarmProtocolException($"update holds a non-finite value at {i}");
        values.CopyTo(destination);
    }
}
