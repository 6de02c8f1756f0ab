using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Views a module's parameters as one flat vector, the unit the outer optimizers and the wire work on.
/// The layout (names, shapes, offsets) is fixed by the module, so peers with the same model config agree.
/// </summary>
public sealed class FlatParameters
{
    private readonly Parameter[] _parameters;

    public FlatParameters(nn.Module module)
    {
        var named = module.named_parameters().ToArray();
        _parameters = named.Select(p => p.parameter).ToArray();
        Names = named.Select(p => p.name).ToArray();
        Shapes = _parameters.Select(p => p.shape.Select(d => checked((int)d)).ToArray()).ToArray();
        var offsets = new long[_parameters.Length];
        long offset = 0;
        for (int i = 0; i < _parameters.Length; i++) { offsets[i] = offset; offset += _parameters[i].numel(); }
        Offsets = offsets;
        Count = offset;
    }

    public IReadOnlyList<string> Names { get; }
    public IReadOnlyList<int[]> Shapes { get; }
    public IReadOnlyList<long> Offsets { get; }
    public long Count { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>A new detached 1-D copy of the current weights, on the parameters' device.</summary>
    public Tensor Snapshot()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return cat(_parameters.Select(p => p.detach().reshape(-1)).ToArray(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>Copies a flat vector into the parameters (θ ← φ).</summary>
    public void Assign(Tensor flat)
    {
        if (flat.numel() != Count) throw new ArgumentException($"flat vector has {flat.numel()} values, model has {Count}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
            _parameters[i].copy_(flat.narrow(0, Offsets[i], _parameters[i].numel()).view(_parameters[i].shape));
    }

    /// <summary>The gradients as one flat vector (zeros where a parameter has none yet).</summary>
    public Tensor GradientSnapshot()
    {
        using var scope = NewDisposeScope();
        var parts = _parameters.Select(p => p.grad is null ? zeros_like(p).reshape(-1) : p.grad.reshape(-1)).ToArray();
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Overwrites the gradients with slices of a flat vector (used by the DDP baseline's average).</summary>
    public void AssignGradients(Tensor flat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var slice = flat.narrow(0, Offsets[i], _parameters[i].numel()).view(_parameters[i].shape);
            if (_parameters[i].grad is null) _parameters[i].grad = slice.clone().DetachFromDisposeScope();
            else _parameters[i].grad!.copy_(slice);
        }
    }
}
