using static TorchSharp.torch;

namespace Decentralized.Node.Model;

/// <summary>
/// Keys and values of every layer for the positions a model has already seen, so that generating one more token
/// computes one position instead of the whole prefix. Holds (B, H, T, D) per layer and owns those tensors.
/// Positions are bounded by the model's context length (the rotary table); the caller starts a new cache beyond it.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    /// <summary>An empty cache for a model with <paramref name="layers"/> decoder blocks.</summary>
    public KvCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Positions held: the rotary offset of the next token.</summary>
    public int Length { get; private set; }

    /// <summary>Appends this step's (B, H, T, D) keys and values of one layer and returns everything held for it.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        _keys[layer] = Grow(_keys[layer], k);
        _values[layer] = Grow(_values[layer], v);
        return (_keys[layer]!, _values[layer]!);
    }

    /// <summary>Called once every layer has appended <paramref name="positions"/> new positions.</summary>
    internal void Advance(int positions) => Length += positions;

    // The old tensor is replaced, not extended in place: cat copies, O(T) per step, small beside the matmuls.
    private static Tensor Grow(Tensor? held, Tensor next)
    {
        var grown = (held is null ? next.detach().clone() : cat(new[] { held, next.detach() }, 2)).DetachFromDisposeScope();
        held?.Dispose();
        return grown;
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
    }
}
