using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>LLaMA's feed-forward block: W2 · (SiLU(W1 x) ⊙ W3 x) (Shazeer, "GLU variants").</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear w1, w2, w3;

    public SwiGluMlp(ModelConfig config) : base(nameof(SwiGluMlp))
    {
        int hidden = config.EffectiveMlpHidden;
        w1 = nn.Linear(config.Dim, hidden, hasBias: false);
        w3 = nn.Linear(config.Dim, hidden, hasBias: false);
        w2 = nn.Linear(hidden, config.Dim, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gated = nn.functional.silu(w1.forward(x)) * w3.forward(x);
        return w2.forward(gated).MoveToOuterDisposeScope();
    }
}
