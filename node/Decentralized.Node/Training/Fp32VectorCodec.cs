using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>Uncompressed float32: what crosses the wire is the vector itself.</summary>
public sealed class Fp32VectorCodec : IVectorCodec
{
    public string Spec => "fp32";
    public bool IsLossless => true;

    public (Tensor Decoded, long Bytes) RoundTrip(Tensor vector, int sender, string stream, int seed) =>
        (vector.detach().clone(), vector.numel() * sizeof(float));
}
