namespace Decentralized.Kernels;

/// <summary>The sender's error-feedback memory: per tensor name, what the lossy stages did not send
/// last time (input + previous residual − what the receiver decodes). The encoder adds it to the
/// next input (SparseLoCo; 1-bit Adam / EF-SGD). Owned by one sender and not thread-safe: use one
/// instance per outgoing stream of pseudo-gradients.</summary>
public sealed class ErrorFeedbackState
{
    private readonly Dictionary<string, float[]> _residuals = new(StringComparer.Ordinal);

    /// <summary>Number of tensors with a residual.</summary>
    public int Count => _residuals.Count;

    /// <summary>Total residual elements held (memory is 4 bytes each).</summary>
    public long ElementCount
    {
        get
        {
            long total = 0;
            foreach (float[] residual in _residuals.Values)
            {
                total += residual.Length;
            }

            return total;
        }
    }

    /// <summary>Forgets every residual (for example after the model was replaced or rebuilt).</summary>
    public void Reset() => _residuals.Clear();

    /// <summary>Forgets one tensor's residual; returns false when there was none.</summary>
    public bool Remove(string name) => _residuals.Remove(name);

    /// <summary>A copy-free view of the residual kept for <paramref name="name"/>, or an empty span
    /// when nothing is kept (tests and diagnostics; the encoder owns the contents).</summary>
    public ReadOnlySpan<float> GetResidual(string name) =>
        _residuals.TryGetValue(name, out float[]? residual) ? residual : ReadOnlySpan<float>.Empty;

    /// <summary>The names of the tensors with a residual (for saving the state with a checkpoint).</summary>
    public IReadOnlyCollection<string> Names => _residuals.Keys;

    /// <summary>Puts back a residual saved with a checkpoint, replacing any kept for <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">A value the codecs would refuse (a residual never holds one).</exception>
    public void Restore(string name, ReadOnlySpan<float> residual)
    {
        int bad = FiniteGuard.FindFirstInvalid(residual);
        if (bad >= 0)
        {
            throw new ArgumentException($"error-feedback residual for '{name}' element {bad} is {residual[bad]}", nameof(residual));
        }

        _residuals[name] = residual.ToArray();
    }

    /// <summary>True when a residual is kept for <paramref name="name"/>.</summary>
    public bool Contains(string name) => _residuals.ContainsKey(name);

    /// <summary>The residual buffer for <paramref name="name"/>, created zeroed on first use.</summary>
    /// <exception cref="ArgumentException">The tensor changed length since the residual was made;
    /// call <see cref="Remove"/> or <see cref="Reset"/> after reshaping a model.</exception>
    internal float[] GetOrCreate(string name, int length)
    {
        if (_residuals.TryGetValue(name, out float[]? residual))
        {
            if (residual.Length != length)
            {
                throw new ArgumentException(
                    $"error-feedback residual for '{name}' has {residual.Length} elements but the tensor has {length}; " +
                    "call Remove or Reset after changing the model", nameof(name));
            }

            return residual;
        }

        residual = new float[length];
        _residuals[name] = residual;
        return residual;
    }

    /// <summary>The residual if one exists, without creating it.</summary>
    internal float[]? Find(string name) => _residuals.TryGetValue(name, out float[]? residual) ? residual : null;
}
