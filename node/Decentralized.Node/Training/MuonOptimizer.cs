using Decentralized.Node.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Muon on the hidden matrices (ALGORITHMS.md, "Muon as the inner optimizer"), per matrix W (rows = fan_out):
/// <code>
/// Keller:  m ← β·m + (1−β)·g ;  u ← (1−β)·g + β·m      MuLoCo:  m ← μ·m + g ;  u ← m
/// X ← NS(u / (‖u‖_F + ε))                               (five Newton–Schulz steps, the variant's coefficients)
/// W ← (1 − lr·λ)·W − lr·s(rows, cols)·X                 (s: √max(1, rows/cols) or √(rows/cols))
/// </code>
/// The only state is one momentum buffer per matrix, saved for exact resume.
/// </summary>
public sealed class MuonOptimizer : IDisposable
{
    private readonly Parameter[] _matrices;
    private readonly Tensor[] _momentum;
    private readonly MuonVariant _variant;
    private readonly double _beta;
    private readonly double _weightDecay;

    public MuonOptimizer(IEnumerable<Parameter> matrices, MuonVariant variant, double momentum, double weightDecay)
    {
        _matrices = matrices.ToArray();
        if (_matrices.Any(p => p.dim() != 2)) throw new ArgumentException("Muon takes matrices only");
        _momentum = _matrices.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _variant = variant;
        _beta = momentum;
        _weightDecay = weightDecay;
    }

    /// <summary>Matrices this optimizer updates.</summary>
    public int Count => _matrices.Length;

    /// <summary>One step on every matrix that has a gradient, at rate <paramref name="lr"/> (before shape scaling).</summary>
    public void Step(double lr)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _matrices.Length; i++)
        {
            using var scope = NewDisposeScope();
            var p = _matrices[i];
            var g = p.grad;
            if (g is null) continue;
            var m = _momentum[i];
            Tensor u;
            if (_variant.Nesterov)
            {
                m.lerp_(g, 1 - _beta);                  // m ← β·m + (1−β)·g
                u = g.lerp(m, _beta);                   // u ← (1−β)·g + β·m
            }
            else
            {
                m.mul_(_beta).add_(g);                  // m ← μ·m + g
                u = m;
            }
            var x = NewtonSchulz.Orthogonalize(u, _variant.Coefficients, _variant.Epsilon);
            if (_weightDecay > 0) p.mul_(1 - lr * _weightDecay);
            p.add_(x, alpha: -lr * _variant.ShapeScale(p.shape[0], p.shape[1]));
        }
    }

    /// <summary>
    /// Zeroes the matrices' gradients before a step's backward passes accumulate into them: AdamW's zero_grad reaches only
    /// its own parameters, and a gradient left over would add every past step into the next one (and break exact resume).
    /// </summary>
    public void ZeroGradients()
    {
        using var scope = NewDisposeScope();
        foreach (var p in _matrices) p.grad?.zero_();
    }

    /// <summary>Writes the momentum buffers: a count, then each as a flat float32 vector.</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(_momentum.Length);
        foreach (var m in _momentum) TensorIo.WriteFlat(writer, m);
    }

    /// <summary>Restores what <see cref="Save"/> wrote; a count or size that does not match the model is a <see cref="CheckpointException"/>.</summary>
    public void Load(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count != _momentum.Length) throw new CheckpointException($"checkpoint Muon state has {count} matrices; the model has {_momentum.Length}");
        using var scope = NewDisposeScope();
        for (int i = 0; i < count; i++) TensorIo.ReadFlatInto(reader, _momentum[i].view(-1), $"Muon momentum {i}");
    }

    public void Dispose()
    {
        foreach (var m in _momentum) m.Dispose();
    }
}
