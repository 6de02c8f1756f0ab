using Decentralized.Node.Rounds;
using System.Runtime.InteropServices;
using Decentralized.Kernels;

namespace Decentralized.Node.Swarm;

/// <summary>
/// The codec-level faults of <see cref="Misbehaviour"/> (<c>--misbehave garbage|nan|huge</c>): this peer sends
/// corrupt updates while decoding others' normally. Never useful in a real run.
/// </summary>
public sealed class FaultyUpdateCodec(IUpdateCodec inner, string mode) : IUpdateCodec
{
    private readonly Random _random = new(7);

    public string Spec => inner.Spec;
    public bool IsLossless => inner.IsLossless;

    public byte[] Encode(ReadOnlySpan<float> values, string stream, int seed)
    {
        switch (mode)
        {
            case "garbage":
                var junk = new byte[Math.Max(16, values.Length)];
                _random.NextBytes(junk);
                return junk;
            case "nan":
                var nan = new float[values.Length];
                Array.Fill(nan, float.NaN);
                return MemoryMarshal.AsBytes(nan.AsSpan()).ToArray();
            case "huge":
                var huge = values.ToArray();
                for (int i = 0; i < huge.Length; i++) huge[i] = huge[i] * 1000 + 1000;
                return inner.Encode(huge, stream, seed);
            default:
                throw new ArgumentException($"unknown --misbehave mode '{mode}': use garbage, nan or huge");
        }
    }

    public void DecodeInto(ReadOnlySpan<byte> blob, Span<float> destination) => inner.DecodeInto(blob, destination);

    public IReadOnlyDictionary<string, ErrorFeedbackState> Feedback => inner.Feedback;

    public ErrorFeedbackState FeedbackOf(string stream) => inner.FeedbackOf(stream);
}
