using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>Root-mean-square layer norm (Zhang and Sennrich, 2019), as in LLaMA: x / rms(x) · g.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    // Held for the module's lifetime: a temporary Scalar built from a double per call can be finalized by the
    // garbage collector while the native add_ still reads it (seen as "toFloat at Scalar.h" failures).
    private readonly Scalar _eps;

    public RmsNorm(int dim, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rms = x.pow(2).mean(new long[] { -1 }, keepdim: true).add_(_eps).rsqrt_();
        return (x * rms * weight).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _eps.Dispose();
        base.Dispose(disposing);
    }
}
