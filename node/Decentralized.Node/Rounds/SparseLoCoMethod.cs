using Decentralized.Kernels;
using Decentralized.Node.Outer;
using static TorchSharp.torch;

namespace Decentralized.Node.Rounds;

/// <summary>
/// SparseLoCo in the round engine (Sarfi et al. 2025, arXiv 2508.15706, as tplr-ai/SparseLoCo and one-covenant/templar
/// implement it; ALGORITHMS.md, "SparseLoCo"). Each round, on this member:
/// <code>
///   Δ ← φ − θ;  e ← β·e + Δ                        the decayed error-feedback accumulator replaces outer momentum
///   send tile top-k of e, 2-bit;  e ← e − ê        <see cref="OwnCodec"/>: the residual keeps the quantization error
///   v_r ← v_r · min(1, median‖v‖ / (‖v_r‖ + 1e-8)) for every member's decoded update (own included)
///   Δ̄_j ← Σ_r v_r,j / #senders of j (or / R)      0 where nobody sent j
///   φ ← φ − α·Δ̄                                   plain SGD: no momentum, no Nesterov
/// </code>
/// All-to-all by default, so every member averages the same decoded vectors and all keep the same φ; with a group
/// size, NoLoCo's random groups exchange the same payload instead. e is this member's own (it is what it has not sent
/// yet): it is saved where momentum is, and a joiner that downloads it re-sends the giver's backlog once.
/// </summary>
public sealed class SparseLoCoMethod : IOuterMethod
{
    private readonly SparseLoCoOptions _options;
    private readonly Tensor _slow;
    private readonly Tensor _accumulator;
    private readonly SparseCodec _codec;

    /// <param name="shapes">The parameter shapes laid out back to back in φ (the tiles follow them).</param>
    public SparseLoCoMethod(Tensor initialSlow, IReadOnlyList<int[]> shapes, SparseLoCoOptions options)
    {
        _options = options.Validate();
        _slow = initialSlow.detach().clone().DetachFromDisposeScope();
        _accumulator = zeros_like(_slow).DetachFromDisposeScope();
        var layout = TileLayout.Of(shapes);
        if (layout.Count != _slow.numel()) throw new ArgumentException($"shapes hold {layout.Count} values, φ has {_slow.numel()}");
        _codec = new SparseCodec(this, layout);
    }

    public Tensor Slow => _slow;

    /// <summary>e, the error-feedback accumulator: what this member has not sent yet (decayed by β each round).</summary>
    public Tensor Momentum => _accumulator;

    public long Round { get; set; }

    public bool OwnAsDecoded => true;
    public double OuterLearningRate => _options.LearningRate;

    public IUpdateCodec OwnCodec => _codec;

    public int[] Group(int self, int memberCount, long seed, long round) => _options.GroupSize == 0
        ? Enumerable.Range(0, memberCount).ToArray()
        : NoLoCoPairing.GroupOf(self, memberCount, seed, round, _options.GroupSize);

    public Payload ChoosePayload(Payload? asked, bool losslessChain) =>
        asked is null or Payload.Sparse ? Payload.Sparse : throw new ArgumentException($"SparseLoCo sends its sparse accumulator, not {asked}");

    /// <summary>e ← β·e + Δ with Δ = reference − θ; returns e, which <see cref="OwnCodec"/> sends the top of and keeps the rest.</summary>
    public (float[] Primary, float[]? Slow) Update(Tensor fast, Tensor reference, Payload payload)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _accumulator.mul_(_options.Beta).add_(reference - fast);
        return (RoundEngine.Cpu(_accumulator), null);
    }

    /// <summary>The clipped per-coordinate mean of the group's decoded updates, then φ ← φ − α·Δ̄. The last round steps alike (φ is already shared all-to-all).</summary>
    public void Step(Payload payload, IReadOnlyList<Contribution> group, bool consolidate)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var norms = group.Select(c => c.Primary.norm().item<float>()).ToArray();
        float median = Median(norms);
        var sum = zeros_like(_slow);
        var senders = zeros_like(_slow);
        for (int r = 0; r < group.Count; r++)
        {
            double scale = _options.ClipToMedian ? Math.Min(1.0, median / (norms[r] + 1e-8)) : 1.0;
            sum.add_(group[r].Primary, alpha: scale);
            senders.add_(group[r].Primary.ne(0));   // a sent value decodes to μ + lookup[q], never exactly 0 in practice
        }

        var mean = _options.Mean == SparseMean.Senders ? sum.div_(senders.clamp_min_(1)) : sum.div_(group.Count);
        _slow.add_(mean, alpha: -_options.LearningRate);
        Round++;
    }

    /// <summary>The median of <paramref name="values"/> (mean of the middle two for an even count).</summary>
    private static float Median(float[] values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    public void Dispose()
    {
        _slow.Dispose();
        _accumulator.Dispose();
    }

    /// <summary>
    /// The wire form: <see cref="SparseLoCoCodec"/> over the model's tiles. Encoding sends the top of the accumulator it is
    /// given and puts the residual back into the method's e, so e never holds what was sent.
    /// </summary>
    private sealed class SparseCodec(SparseLoCoMethod owner, TileLayout layout) : IUpdateCodec
    {
        private static readonly IReadOnlyDictionary<string, ErrorFeedbackState> None = new Dictionary<string, ErrorFeedbackState>();

        public string Spec => $"sparseloco:k{owner._options.K}:{(owner._options.Positions == SparseIndexCoding.Rice ? "rice" : "12bit")}";

        public bool IsLossless => false;

        public byte[] Encode(ReadOnlySpan<float> values, string stream, int seed)
        {
            var residual = values.ToArray();
            var blob = SparseLoCoCodec.Encode(residual, layout, owner._options.K, owner._options.Positions);
            using var noGrad = no_grad();
            using var r = tensor(residual);
            owner._accumulator.copy_(r);
            return blob;
        }

        public void DecodeInto(ReadOnlySpan<byte> blob, Span<float> destination) => SparseLoCoCodec.DecodeInto(blob, layout, destination, []);

        /// <summary>None: the residual is the method's accumulator, saved as its momentum.</summary>
        public IReadOnlyDictionary<string, ErrorFeedbackState> Feedback => None;

        public ErrorFeedbackState FeedbackOf(string stream) => throw new InvalidOperationException("SparseLoCo keeps its residual as the method's accumulator");
    }
}
