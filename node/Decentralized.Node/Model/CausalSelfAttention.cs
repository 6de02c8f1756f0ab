using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>Multi-head causal self-attention with rotary q/k and PyTorch's fused SDPA kernel.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear wq, wk, wv, wo;
    private readonly RotaryEmbedding rope;
    private readonly int _heads;

    public CausalSelfAttention(ModelConfig config) : base(nameof(CausalSelfAttention))
    {
        _heads = config.Heads;
        wq = nn.Linear(config.Dim, config.Dim, hasBias: false);
        wk = nn.Linear(config.Dim, config.Dim, hasBias: false);
        wv = nn.Linear(config.Dim, config.Dim, hasBias: false);
        wo = nn.Linear(config.Dim, config.Dim, hasBias: false);
        rope = new RotaryEmbedding(config.HeadDim, config.ContextLength, config.RopeTheta);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], c = x.shape[2];
        var q = rope.forward(SplitHeads(wq.forward(x), b, t, c));   // (B, H, T, D)
        var k = rope.forward(SplitHeads(wk.forward(x), b, t, c));
        var v = SplitHeads(wv.forward(x), b, t, c);
        var y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true); // (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(b, t, c);                              // (B, T, C)
        return wo.forward(y).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long b, long t, long c) =>
        x.view(b, t, _heads, c / _heads).transpose(1, 2);
}
