using Decentralized.Node.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Local training of one replica (or one pipeline stage that ends in the head) with AdamW, or with Muon on the blocks'
/// matrices and AdamW on the rest. The step is split in two halves, gradients then update, so the DDP baseline can
/// average gradients between them.
/// </summary>
public sealed class InnerTrainer : IDisposable
{
    // Leads a Muon state blob in a checkpoint; AdamW's blob (TorchSharp's state dict) starts with small counts instead.
    private const long MuonStateMagic = 0x5354_4E4F_554D_4E49;   // "INMUONTS" little-endian

    private readonly AdamW _optimizer;      // every parameter, or with Muon those Muon does not take
    private readonly MuonOptimizer? _muon;
    private readonly Device _device;
    private readonly long[] _shape;

    public InnerTrainer(ModelStage model, InnerOptions options, Device device)
    {
        Options = options.Validate();
        if (options.SequenceLength > model.Config.ContextLength)
            throw new ArgumentException($"sequence length {options.SequenceLength} exceeds the model context {model.Config.ContextLength}");
        Model = model;
        _device = device;
        model.to(device);
        Flat = new FlatParameters(model);
        // As both references do: embeddings, head and norm gains stay with AdamW; only the hidden matrices take Muon.
        var variant = options.Optimizer.Variant();
        var hidden = variant is null ? [] : model.HiddenMatrices().ToHashSet(ReferenceEqualityComparer.Instance);
        if (variant is not null) _muon = new MuonOptimizer(model.HiddenMatrices(), variant, options.MuonMomentum, options.MuonWeightDecay);
        _optimizer = optim.AdamW(model.parameters().Where(p => !hidden.Contains(p)), options.LearningRate, options.Beta1, options.Beta2,
            eps: 1e-8, weight_decay: options.WeightDecay);
        _shape = new long[] { options.MicroBatchSize, options.SequenceLength + 1 };
    }

    public ModelStage Model { get; }
    public FlatParameters Flat { get; }
    public InnerOptions Options { get; }

    /// <summary>Inner steps taken so far (drives the learning-rate schedule; saved in checkpoints).</summary>
    public long Step { get; set; }

    /// <summary>Tokens in one micro-batch buffer: B × (T + 1).</summary>
    public int MicroBatchTokens => (int)(_shape[0] * _shape[1]);

    /// <summary>
    /// Runs the accumulated micro-batches forward and backward, leaving averaged gradients on the
    /// parameters. <paramref name="fill"/> writes one micro-batch of B × (T + 1) token ids.
    /// Returns the mean training loss (nats per token).
    /// </summary>
    public double ComputeGradients(Action<long[]> fill, long[] buffer) => TorchGuard.Run(() =>
    {
        // Every access to p.grad wraps a new handle, so even zero_grad and clipping run inside a scope.
        using (var zeroScope = NewDisposeScope())
        {
            _optimizer.zero_grad();
            _muon?.ZeroGradients();
        }
        int accumulation = Options.AccumulationSteps;
        double total = 0;
        for (int i = 0; i < accumulation; i++)
        {
            using var scope = NewDisposeScope();
            fill(buffer);
            var loss = Loss(buffer);
            (accumulation == 1 ? loss : loss / accumulation).backward();
            total += loss.item<float>();
        }
        return total / accumulation;
    });

    /// <summary>
    /// Clips, applies the scheduled learning rates and takes one step (AdamW, and Muon on the hidden matrices). Returns the
    /// pre-clip gradient norm. The clip spans every parameter, Muon's too, so AdamW and Muon runs see the same gradients.
    /// </summary>
    public double ApplyUpdate() => TorchGuard.Run(() =>
    {
        using var scope = NewDisposeScope();
        double norm = Options.GradientClipNorm > 0
            ? nn.utils.clip_grad_norm_(Model.parameters(), Options.GradientClipNorm)
            : double.NaN;
        double lr = Options.LearningRateAt(Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.step();
        _muon?.Step(Options.MuonLearningRateAt(Step));
        Step++;
        return norm;
    });

    /// <summary>One full inner step; returns the training loss.</summary>
    public double TrainStep(Action<long[]> fill, long[] buffer)
    {
        double loss = ComputeGradients(fill, buffer);
        ApplyUpdate();
        return loss;
    }

    /// <summary>Mean cross-entropy over the given token batches, without gradients.</summary>
    public double Evaluate(IEnumerable<long[]> batches) => TorchGuard.Run(() =>
    {
        using var noGrad = no_grad();
        Model.eval();
        double total = 0; int count = 0;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            total += Loss(batch).item<float>();
            count++;
        }
        Model.train();
        return count == 0 ? double.NaN : total / count;
    });

    /// <summary>
    /// Writes the inner optimizer's state for a checkpoint: AdamW's moments and step counts (the same bytes as before Muon
    /// existed), preceded with Muon by a marker, the variant's name and the momentum buffers.
    /// </summary>
    public void SaveOptimizerState(BinaryWriter writer)
    {
        if (_muon is not null)
        {
            writer.Write(MuonStateMagic);
            writer.Write(Options.Optimizer.Name());
            _muon.Save(writer);
        }
        _optimizer.save_state_dict(writer);
    }

    /// <summary>
    /// Restores what <see cref="SaveOptimizerState"/> wrote from a seekable stream. State of another inner optimizer is a
    /// <see cref="Checkpoints.CheckpointException"/> naming both.
    /// </summary>
    public void LoadOptimizerState(BinaryReader reader)
    {
        var stream = reader.BaseStream;
        long start = stream.Position;
        bool muonSaved = stream.Length - start >= sizeof(long) && reader.ReadInt64() == MuonStateMagic;
        string saved = muonSaved ? reader.ReadString() : InnerOptimizer.AdamW.Name();
        if (saved != Options.Optimizer.Name())
            throw new Checkpoints.CheckpointException($"checkpoint holds {Truncate(saved)} inner optimizer state; this run uses --inner-optimizer {Options.Optimizer.Name()}");
        if (muonSaved) _muon!.Load(reader);
        else stream.Position = start;
        _optimizer.load_state_dict(reader);
    }

    private static string Truncate(string text) => text.Length <= 32 ? text : text[..32] + "...";

    private Tensor Loss(long[] buffer)
    {
        long b = _shape[0], t = _shape[1] - 1;
        var tokens = tensor(buffer, _shape).to(_device);               // (B, T+1)
        var input = tokens.narrow(1, 0, t);                            // (B, T)
        var target = tokens.narrow(1, 1, t);                           // (B, T)
        var logits = Model.forward(input);                             // (B, T, V)
        return nn.functional.cross_entropy(logits.reshape(b * t, -1), target.reshape(b * t));
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _muon?.Dispose();
    }
}
