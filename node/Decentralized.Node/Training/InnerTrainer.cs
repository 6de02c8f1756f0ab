using Decentralized.Node.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>
/// Local AdamW training of one replica (or one pipeline stage that ends in the head). The step is split in
/// two halves, gradients then update, so the DDP baseline can average gradients between them.
/// </summary>
public sealed class InnerTrainer : IDisposable
{
    private readonly AdamW _optimizer;
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
        _optimizer = optim.AdamW(model.parameters(), options.LearningRate, options.Beta1, options.Beta2,
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
        using (var zeroScope = NewDisposeScope()) _optimizer.zero_grad();
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

    /// <summary>Clips, applies the scheduled learning rate and takes one AdamW step. Returns the pre-clip gradient norm.</summary>
    public double ApplyUpdate() => TorchGuard.Run(() =>
    {
        using var scope = NewDisposeScope();
        double norm = Options.GradientClipNorm > 0
            ? nn.utils.clip_grad_norm_(Model.parameters(), Options.GradientClipNorm)
            : double.NaN;
        double lr = Options.LearningRateAt(Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.step();
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

    /// <summary>Writes the AdamW state (moments and step counts) for a checkpoint.</summary>
    public void SaveOptimizerState(BinaryWriter writer) => _optimizer.save_state_dict(writer);

    /// <summary>Restores the AdamW state written by <see cref="SaveOptimizerState"/>.</summary>
    public void LoadOptimizerState(BinaryReader reader) => _optimizer.load_state_dict(reader);

    private Tensor Loss(long[] buffer)
    {
        long b = _shape[0], t = _shape[1] - 1;
        var tokens = tensor(buffer, _shape).to(_device);               // (B, T+1)
        var input = tokens.narrow(1, 0, t);                            // (B, T)
        var target = tokens.narrow(1, 1, t);                           // (B, T)
        var logits = Model.forward(input);                             // (B, T, V)
        return nn.functional.cross_entropy(logits.reshape(b * t, -1), target.reshape(b * t));
    }

    public void Dispose() => _optimizer.Dispose();
}
