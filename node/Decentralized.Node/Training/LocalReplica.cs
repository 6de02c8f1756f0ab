using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using static TorchSharp.torch;

namespace Decentralized.Node.Training;

/// <summary>One replica of an in-process run: its model, AdamW, data stream and outer state.</summary>
public sealed class LocalReplica : IDisposable
{
    public LocalReplica(int index, ComparisonOptions options, IBatchSource data, Device device, Export.InitialWeights? initialWeights = null)
    {
        Index = index;
        Data = data;
        // Every replica starts from identical weights (same seed, or the same --init-from), as all three methods require.
        var model = new ModelStage(options.Model, seed: options.Seed);
        initialWeights?.ApplyTo(model);
        Trainer = new InnerTrainer(model, options.Inner, device);
        Buffer = new long[Trainer.MicroBatchTokens];
        using var initial = Trainer.Flat.Snapshot();
        if (options.Algorithm == Algorithm.DiLoCo) DiLoCo = new DiLoCoOuterOptimizer(initial, options.DiLoCo);
        if (options.Algorithm == Algorithm.NoLoCo) NoLoCo = new NoLoCoOuterOptimizer(initial, options.NoLoCo);
    }

    public int Index { get; }
    public InnerTrainer Trainer { get; }
    public IBatchSource Data { get; }
    public long[] Buffer { get; }
    public DiLoCoOuterOptimizer? DiLoCo { get; }
    public NoLoCoOuterOptimizer? NoLoCo { get; }

    /// <summary>φ of whichever outer optimiser this replica runs (null for DDP).</summary>
    public Tensor? Slow => DiLoCo?.Slow ?? NoLoCo?.Slow;
    public Tensor? OuterMomentum => DiLoCo?.Momentum ?? NoLoCo?.Momentum;

    public long OuterRound
    {
        get => DiLoCo?.Round ?? NoLoCo?.Round ?? 0;
        set { if (DiLoCo is not null) DiLoCo.Round = value; if (NoLoCo is not null) NoLoCo.Round = value; }
    }

    public double TrainStep() => Trainer.TrainStep(Data.Next, Buffer);

    public double ComputeGradients() => Trainer.ComputeGradients(Data.Next, Buffer);

    /// <summary>θ ← φ after an outer step.</summary>
    public void RestartFromSlow()
    {
        if (Slow is not null) Trainer.Flat.Assign(Slow);
    }

    public void Dispose()
    {
        DiLoCo?.Dispose();
        NoLoCo?.Dispose();
        Trainer.Dispose();
        Trainer.Model.Dispose();
    }
}
