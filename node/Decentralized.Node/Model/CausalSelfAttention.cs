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

    public override Tensor forward(Tensor x) => Attend(x, null, 0);

    /// <summary>
    /// Attention of the new positions x (B, T, C) over themselves and, with a cache, over every earlier position of
    /// layer <paramref name="layer"/>; the new keys and values are appended to the cache.
    /// </summary>
    internal Tensor Attend(Tensor x, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], c = x.shape[2];
        int past = cache?.Length ?? 0;
        var q = rope.Rotate(SplitHeads(wq.forward(x), b, t, c), past);   // (B, H, T, D)
        var k = rope.Rotate(SplitHeads(wk.forward(x), b, t, c), past);
        var v = SplitHeads(wv.forward(x), b, t, c);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);      // (B, H, past + T, D)
        var y = past == 0 ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
            : t == 1 ? nn.functional.scaled_dot_product_attention(q, k, v)   // one new position sees every earlier one
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: ones(t, past + t, dtype: ScalarType.Bool, device: x.device).tril(past));
        y = y.transpose(1, 2).contiguous().view(b, t, c);                              // (B, T, C)
        return wo.forward(y).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long b, long t, long c) =>
        x.view(b, t, _heads, c / _heads).transpose(1, 2);
}
