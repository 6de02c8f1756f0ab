using Decentralized.Kernels;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// The kernels' codec chain applied to whole flat vectors, for the in-process comparison: the real encoder and
/// decoder run on every exchange, so the loss reflects the compression and the byte count is the blob's size
/// (headers and checksums included). Error-feedback residuals are kept per sender and stream.
/// </summary>
public sealed class ChainVectorCodec(CodecChain chain) : IVectorCodec
{
    private readonly Dictionary<(int, string), ErrorFeedbackState> _feedback = new();

    public ChainVectorCodec(string spec) : this(CodecChain.Parse(spec)) { }

    public string Spec => chain.Spec;
    public bool IsLossless => chain.IsLossless;

    public (Tensor Decoded, long Bytes) RoundTrip(Tensor vector, int sender, string stream, int seed)
    {
        using var cpu = vector.detach().cpu().contiguous();
        var input = cpu.data<float>().ToArray();
        var output = new float[input.Length];
        var fb = chain.UsesErrorFeedback ? FeedbackOf(sender, stream) : null;
        long bytes = chain.RoundTrip(input, output, fb, stream, seed);
        return (tensor(output).to(vector.device), bytes);
    }

    public IReadOnlyDictionary<(int Sender, string Stream), ErrorFeedbackState> Feedback => _feedback;

    public ErrorFeedbackState FeedbackOf(int sender, string stream)
    {
        if (!_feedback.TryGetValue((sender, stream), out var fb)) _feedback[(sender, stream)] = fb = new ErrorFeedbackState();
        return fb;
    }
}
