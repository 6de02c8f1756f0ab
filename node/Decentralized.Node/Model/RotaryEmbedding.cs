using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>
/// Rotary position embeddings (Su et al., RoFormer) in the "rotate half" layout: channel i is paired
/// with channel i + D/2. The cos/sin tables are buffers, so they move with the module to the device.
/// </summary>
public sealed class RotaryEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Tensor cos;
    private readonly Tensor sin;

    public RotaryEmbedding(int headDim, int contextLength, double theta) : base(nameof(RotaryEmbedding))
    {
        using (var scope = NewDisposeScope())
        {
            var inv = pow(theta, arange(0, headDim, 2, dtype: float64) / headDim).reciprocal();   // (D/2)
            var angles = outer(arange(contextLength, dtype: float64), inv);                      // (T, D/2)
            var full = cat(new[] { angles, angles }, -1);                                        // (T, D)
            cos = full.cos().to(float32).DetachFromDisposeScope();
            sin = full.sin().to(float32).DetachFromDisposeScope();
        }
        register_buffer(nameof(cos), cos, persistent: false);
        register_buffer(nameof(sin), sin, persistent: false);
    }

    /// <summary>Rotates q or k of shape (B, H, T, D) at positions 0..T-1.</summary>
    public override Tensor forward(Tensor x) => Rotate(x, 0);

    /// <summary>Rotates q or k of shape (B, H, T, D) at positions offset..offset+T-1 (a KV-cached step).</summary>
    public Tensor Rotate(Tensor x, long offset)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[2], half = x.shape[3] / 2;
        if (offset + t > cos.shape[0]) throw new ArgumentException($"position {offset + t - 1} is past the model's context length {cos.shape[0]}");
        var c = cos.narrow(0, offset, t);
        var s = sin.narrow(0, offset, t);
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat(new[] { x2.neg(), x1 }, -1);
        return (x * c + rotated * s).MoveToOuterDisposeScope();
    }
}
