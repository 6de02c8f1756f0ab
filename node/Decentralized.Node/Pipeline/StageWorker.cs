using Decentralized.Node.Model;
using Decentralized.Node.Rounds;
using Decentralized.Node.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Pipeline;

/// <summary>
/// The compute of one peer's stage: forward and backward hops, AdamW, the stage's outer rounds with its other
/// replicas (one <see cref="RoundEngine"/> per worker), and the weight parts peers exchange. Every method is
/// synchronous, takes and returns plain arrays and holds the stage lock only while it computes, so no tensor
/// outlives a dispose scope or crosses an await.
/// A backward hop recomputes its forward from the saved input (activation recomputation): the weights may have
/// taken AdamW steps since the forward, which in-place autograd would refuse, and memory stays bounded.
/// </summary>
public sealed partial class StageWorker : IDisposable
{
    private readonly object _gate = new();
    private readonly PipelineOptions _options;
    private readonly ModelStage _model;
    private readonly AdamW _optimizer;
    private readonly FlatParameters _flat;
    private readonly ParameterGroup _blocks, _embedding, _head;
    private readonly NoLoCoMethod _method;
    private readonly RoundEngine _engine;
    private float[]? _embeddingBackup, _headBackup;
    private int _pendingBackwards;
    private bool _disposed;

    /// <summary>
    /// A fresh replica of <paramref name="stage"/>, initialised from the swarm seed (all replicas identical), or from the
    /// parts <paramref name="initialise"/> imports. <paramref name="self"/> names this replica among the stage's others
    /// and <paramref name="time"/> times its rounds' deadlines (both matter only to a worker that runs outer rounds).
    /// </summary>
    public StageWorker(PipelineOptions options, int stage, double lrScale = 1.0, Action<StageWorker>? initialise = null,
        string self = "local", TimeProvider? time = null)
    {
        _options = options;
        Stage = stage;
        LearningRateScale = lrScale;
        _model = new ModelStage(options.Model, stage, options.StageCount, options.Seed);
        _blocks = new ParameterGroup(_model.BlockParameters());
        _embedding = new ParameterGroup(_model.EmbeddingParameters());
        _head = new ParameterGroup(_model.HeadParameters());
        _flat = new FlatParameters(_model);
        using (var scope = NewDisposeScope())
        {
            // Anchored weights are coded relative to weights every replica of the stage holds: the seed's, which a
            // replica copied or rebuilt later derives itself instead of being sent them.
            var seedWeights = RoundEngine.Cpu(_flat.Snapshot());
            initialise?.Invoke(this);
            _method = new NoLoCoMethod(_flat.Snapshot(), options.Outer);
            var codecs = new RoundCodecs(new ChainUpdateCodec(options.Compress, _flat), new ChainUpdateCodec("bf16", _flat),
                new ChainUpdateCodec(options.WeightsCompress, _flat));
            _engine = new RoundEngine(self, _method, codecs, options.RoundsOf(stage), time ?? TimeProvider.System);
            _engine.RestoreAnchor(seedWeights);
        }
        _optimizer = optim.AdamW(_model.parameters(), options.Inner.LearningRate, options.Inner.Beta1, options.Inner.Beta2,
            eps: 1e-8, weight_decay: options.Inner.WeightDecay);
    }

    public int Stage { get; }
    public bool IsFirst => Stage == 0;
    public bool IsLast => Stage == _options.StageCount - 1;

    /// <summary>Multiplier on the scheduled learning rate (CheckFree's 1.1 for a rebuilt stage).</summary>
    public double LearningRateScale { get; }

    /// <summary>AdamW steps taken by this worker.</summary>
    public long Steps { get; private set; }

    /// <summary>Continues the learning-rate schedule at <paramref name="steps"/> (a rebuilt stage joins the swarm's schedule, not a new warm-up).</summary>
    public void SetSteps(long steps)
    {
        lock (_gate) Steps = Math.Max(0, steps);
    }

    /// <summary>ω of this stage: the clipped gradient norm of its last step plus 1e-4 (CheckFree's weight).</summary>
    public double GradNormWeight { get; private set; } = CheckFreeRecovery.NormEpsilon;

    /// <summary>Outer rounds applied (a copied or rebuilt replica continues the swarm's count).</summary>
    public long Round { get => _engine.Round; set => _engine.RestoreRound(value); }

    /// <summary>Values in one weight part of a stage of this swarm (the same for every stage's blocks).</summary>
    public long PartValues(WeightPart part) => part switch
    {
        WeightPart.Blocks => _blocks.Count,
        WeightPart.Embedding or WeightPart.EmbeddingBackup => (long)_options.Model.VocabSize * _options.Model.Dim,
        _ => (long)_options.Model.VocabSize * _options.Model.Dim + _options.Model.Dim,
    };

    /// <summary>Whether this stage owns or keeps a copy of <paramref name="part"/>.</summary>
    public bool Holds(WeightPart part) => part switch
    {
        WeightPart.Blocks => true,
        WeightPart.Embedding => IsFirst,
        WeightPart.Head => IsLast,
        WeightPart.EmbeddingBackup => _embeddingBackup is not null,
        _ => _headBackup is not null,
    };

    /// <summary>Forward of one hop without gradients. <paramref name="tokens"/> feed an embedding hop, <paramref name="input"/> the others.</summary>
    public float[] Forward(HopParts parts, long[]? tokens, float[]? input, int batch, int time)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = Input(parts, tokens, input, batch, time, grad: false);
            return ToArray(Run(parts, x));
        }
    }

    /// <summary>Recomputes the hop with gradients and back-propagates <paramref name="outputGrad"/>; returns the input's gradient (null for an embedding hop).</summary>
    public float[]? Backward(HopParts parts, long[]? tokens, float[]? input, float[] outputGrad, int batch, int time)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            float[]? inputGrad;
            using (var scope = NewDisposeScope())
            {
                var x = Input(parts, tokens, input, batch, time, grad: true);
                var y = Run(parts, x);                                                    // (B, T, C)
                var g = torch.tensor(outputGrad, y.shape);
                (y * g).sum().backward();                                                 // ∂L/∂θ += gᵀ ∂y/∂θ
                inputGrad = (parts & HopParts.Embed) != 0 ? null : ToArray(x.grad!);
            }
            CountBackward();
            return inputGrad;
        }
    }

    /// <summary>The turning hop: forward through the head, mean cross-entropy against <paramref name="targets"/>, backward.</summary>
    public (double Loss, float[]? InputGrad) LossBackward(HopParts parts, long[]? tokens, float[]? input, long[] targets, int batch, int time)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            double loss;
            float[]? inputGrad;
            using (var scope = NewDisposeScope())
            {
                var x = Input(parts, tokens, input, batch, time, grad: true);
                var logits = Run(parts, x);                                               // (B, T, V)
                var target = torch.tensor(targets, new long[] { (long)batch * time });
                var l = nn.functional.cross_entropy(logits.reshape((long)batch * time, -1), target);
                l.backward();
                loss = l.item<float>();
                inputGrad = (parts & HopParts.Embed) != 0 ? null : ToArray(x.grad!);
            }
            CountBackward();
            return (loss, inputGrad);
        }
    }

    /// <summary>Loss of the turning hop without gradients or steps (evaluation on fixed validation batches).</summary>
    public double Loss(HopParts parts, long[]? tokens, float[]? input, long[] targets, int batch, int time)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = Run(parts, Input(parts, tokens, input, batch, time, grad: false));   // (B, T, V)
            var target = torch.tensor(targets, new long[] { (long)batch * time });
            return nn.functional.cross_entropy(logits.reshape((long)batch * time, -1), target).item<float>();
        }
    }

    /// <summary>Weights, AdamW moments, outer state and counters, for a checkpoint (restart-from-checkpoint baseline).</summary>
    public byte[] SaveState()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var memory = new MemoryStream();
            using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Steps);
                writer.Write(_engine.Round);
                writer.Write(GradNormWeight);
                using var scope = NewDisposeScope();
                foreach (var t in new[] { _flat.Snapshot(), _method.Slow, _method.Momentum })
                {
                    var values = t.contiguous().data<float>().ToArray();
                    writer.Write(values.Length);
                    foreach (float v in values) writer.Write(v);
                }
                _optimizer.save_state_dict(writer);
            }
            return memory.ToArray();
        }
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote (same stage and model).</summary>
    public void LoadState(byte[] state)
    {
        lock (_roundGate)
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var reader = new BinaryReader(new MemoryStream(state));
            Steps = reader.ReadInt64();
            long round = reader.ReadInt64();
            GradNormWeight = reader.ReadDouble();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var vectors = new float[3][];
            for (int i = 0; i < 3; i++)
            {
                int n = reader.ReadInt32();
                if (n != _flat.Count) throw new InvalidDataException("checkpoint does not match this stage");
                vectors[i] = new float[n];
                for (int j = 0; j < n; j++) vectors[i][j] = reader.ReadSingle();
            }
            _flat.Assign(torch.tensor(vectors[0]));
            _method.Slow.copy_(torch.tensor(vectors[1]));
            _method.Momentum.copy_(torch.tensor(vectors[2]));
            _engine.RestoreRound(round);
            _optimizer.load_state_dict(reader);
            _pendingBackwards = 0;
            _begun = null;
        }
    }

    private Tensor Input(HopParts parts, long[]? tokens, float[]? input, int batch, int time, bool grad)
    {
        if ((parts & HopParts.Embed) != 0)
            return torch.tensor(tokens ?? throw new ArgumentException("an embedding hop needs tokens"), new long[] { batch, time });
        var x = torch.tensor(input ?? throw new ArgumentException("a hop needs its input activations"),
            new long[] { batch, time, _options.Model.Dim });                               // (B, T, C)
        return grad ? x.requires_grad_(true) : x;
    }

    private Tensor Run(HopParts parts, Tensor x)
    {
        if ((parts & HopParts.Embed) != 0) x = _model.Embed(x);
        if ((parts & HopParts.Blocks) != 0) x = _model.RunBlocks(x);
        if ((parts & HopParts.Head) != 0) x = _model.RunHead(x);
        return x;
    }

    private void CountBackward()
    {
        if (++_pendingBackwards < _options.BackwardsPerStep) return;
        _pendingBackwards = 0;
        using var scope = NewDisposeScope();
        var parameters = _model.parameters().ToArray();
        double norm = _options.Inner.GradientClipNorm > 0
            ? nn.utils.clip_grad_norm_(parameters, _options.Inner.GradientClipNorm)
            : GradNorm(parameters);
        double clipped = _options.Inner.GradientClipNorm > 0 ? Math.Min(norm, _options.Inner.GradientClipNorm) : norm;
        GradNormWeight = CheckFreeRecovery.Weight(clipped);
        double lr = _options.Inner.LearningRateAt(Steps) * LearningRateScale;
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        TorchGuard.Run(() => _optimizer.step());   // TorchSharp's AdamW builds Scalars a collection could finalize mid-call
        _optimizer.zero_grad();
        Steps++;
    }

    private static double GradNorm(IEnumerable<Parameter> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
            if (p.grad is { } g) sum += g.pow(2).sum().item<float>();
        return Math.Sqrt(sum);
    }

    private static float[] ToArray(Tensor t) => t.detach().contiguous().to(float32).data<float>().ToArray();

    public void Dispose()
    {
        lock (_roundGate)   // a round call in progress finishes with the engine before it is disposed
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _optimizer.Dispose();
            _engine.Dispose();
            _method.Dispose();
            _model.Dispose();
        }
    }
}
