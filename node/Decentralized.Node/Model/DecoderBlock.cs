using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>Pre-norm residual block: x + Attn(Norm(x)), then x + MLP(Norm(x)).</summary>
public sealed class DecoderBlock : nn.Module<Tensor, Tensor>
{
    private readonly RmsNorm attn_norm, mlp_norm;
    private readonly CausalSelfAttention attn;
    private readonly SwiGluMlp mlp;

    public DecoderBlock(ModelConfig config) : base(nameof(DecoderBlock))
    {
        attn_norm = new RmsNorm(config.Dim, config.NormEps);
        attn = new CausalSelfAttention(config);
        mlp_norm = new RmsNorm(config.Dim, config.NormEps);
        mlp = new SwiGluMlp(config);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Run(x, null, 0);

    /// <summary>The block over new positions, attending through <paramref name="cache"/> when given (layer <paramref name="layer"/>).</summary>
    internal Tensor Run(Tensor x, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var h = x + attn.Attend(attn_norm.forward(x), cache, layer);
        return (h + mlp.forward(mlp_norm.forward(h))).MoveToOuterDisposeScope();
    }
}
