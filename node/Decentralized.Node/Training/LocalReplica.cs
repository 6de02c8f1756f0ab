using Decentralized.Node.Model;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
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
        var model = new ModelStage(options.Model, seed: options.Seed, init: options.Init);
        initialWeights?.ApplyTo(model);
        Trainer = new InnerTrainer(model, options.Inner, device);
        Buffer = new long[Trainer.MicroBatchTokens];
        using var initial = Trainer.Flat.Snapshot();
        Outer = options.Algorithm switch
        {
            Algorithm.DiLoCo => new DiLoCoMethod(initial, options.DiLoCo),
            Algorithm.NoLoCo => new NoLoCoMethod(initial, options.NoLoCo),
            Algorithm.SparseLoCo => new SparseLoCoMethod(initial, Trainer.Flat.Shapes, options.SparseLoCo),
            _ => null,
        };
    }

    public int Index { get; }
    public InnerTrainer Trainer { get; }
    public IBatchSource Data { get; }
    public long[] Buffer { get; }
    /// <summary>The outer method (null for DDP); this replica owns it.</summary>
    public IOuterMethod? Outer { get; }

    /// <summary>The round engine driving <see cref="Outer"/>, once <c>train</c> attached one.</summary>
    public RoundEngine? Engine { get; private set; }

    /// <summary>φ of the outer method (null for DDP).</summary>
    public Tensor? Slow => Outer?.Slow;
    public Tensor? OuterMomentum => Outer?.Momentum;

    public long OuterRound
    {
        get => Engine?.Round ?? Outer?.Round ?? 0;
        set
        {
            if (Engine is not null) Engine.RestoreRound(value);
            else if (Outer is not null) Outer.Round = value;
        }
    }

    /// <summary>Drives this replica's outer method with <paramref name="engine"/> (built on <see cref="Outer"/>); disposed with the replica.</summary>
    public void Attach(RoundEngine engine)
    {
        if (!ReferenceEquals(engine.Method, Outer)) throw new ArgumentException("the engine must drive this replica's own outer method");
        Engine = engine;
    }

    public double TrainStep() => Trainer.TrainStep(Data.Next, Buffer);

    public double ComputeGradients() => Trainer.ComputeGradients(Data.Next, Buffer);

    public void Dispose()
    {
        Engine?.Dispose();
        Outer?.Dispose();
        Trainer.Dispose();
        Trainer.Model.Dispose();
    }
}
