using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Pipeline;

/// <summary>A fixed list of parameters viewed as one flat float32 vector (a stage's blocks, its embedding, its head).</summary>
public sealed class ParameterGroup
{
    private readonly Parameter[] _parameters;

    public ParameterGroup(IEnumerable<Parameter> parameters)
    {
        _parameters = parameters.ToArray();
        Count = _parameters.Sum(p => p.numel());
    }

    public long Count { get; }

    /// <summary>The current values, concatenated in order.</summary>
    public float[] Export()
    {
        var result = new float[Count];
        long offset = 0;
        using var scope = NewDisposeScope();
        foreach (var p in _parameters)
        {
            p.detach().contiguous().to(float32).data<float>().CopyTo(result.AsSpan((int)offset, (int)p.numel()));
            offset += p.numel();
        }
        return result;
    }

    /// <summary>Overwrites the parameters with <paramref name="values"/> (exactly <see cref="Count"/> of them).</summary>
    public void Import(float[] values)
    {
        if (values.Length != Count) throw new ArgumentException($"expected {Count} values, got {values.Length}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long offset = 0;
        foreach (var p in _parameters)
        {
            var slice = torch.tensor(values.AsSpan((int)offset, (int)p.numel()).ToArray(), p.shape);
            p.copy_(slice);
            offset += p.numel();
        }
    }
}
