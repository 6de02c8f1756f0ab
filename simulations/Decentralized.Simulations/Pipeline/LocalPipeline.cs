using Decentralized.Node.Training;
using Decentralized.Node.Pipeline;

namespace Decentralized.Simulations.Pipeline;

/// <summary>
/// All stages of a pipeline in one process, one replica each (a stage failure takes all replicas at once), driven
/// with the same <see cref="StageWorker"/>, routes and <see cref="CheckFreeRecovery"/> the peers use. Keeps the
/// embedding and head copies that CheckFree+ places on the neighbouring stages.
/// </summary>
internal sealed class LocalPipeline : IDisposable
{
    private readonly PipelineOptions _options;
    private readonly StageWorker[] _workers;
    private readonly int _b, _t;
    private float[]? _embeddingCopy, _headCopy;

    public LocalPipeline(PipelineOptions options)
    {
        _options = options;
        _b = options.Inner.MicroBatchSize;
        _t = options.Inner.SequenceLength;
        _workers = Enumerable.Range(0, options.StageCount).Select(s => TorchGuard.Run(() => new StageWorker(options, s))).ToArray();
    }

    public int StageCount => _workers.Length;

    /// <summary>One microbatch forward and backward along its route (every stage steps AdamW); returns the training loss.</summary>
    public double Train(long microbatch, bool swapped, long[] tokens, long[] targets) => TorchGuard.Run(() =>
    {
        var hops = MicrobatchRoute.Hops(StageCount, swapped, microbatch);
        var inputs = new float[]?[hops.Length];
        float[]? x = null;
        for (int h = 0; h < hops.Length - 1; h++)
        {
            inputs[h] = x;
            x = _workers[hops[h].Stage].Forward(hops[h].Parts, h == 0 ? tokens : null, x, _b, _t);
        }
        var (loss, grad) = _workers[hops[^1].Stage].LossBackward(hops[^1].Parts, null, x, targets, _b, _t);
        for (int h = hops.Length - 2; h >= 0; h--)
            grad = _workers[hops[h].Stage].Backward(hops[h].Parts, h == 0 ? tokens : null, inputs[h], grad!, _b, _t);
        return loss;
    });

    /// <summary>Mean validation loss along the in-order route (evaluation uses fixed routing).</summary>
    public double Evaluate(IReadOnlyList<(long[] Tokens, long[] Targets)> batches) => TorchGuard.Run(() =>
    {
        var hops = MicrobatchRoute.Hops(StageCount, false, 0);
        double total = 0;
        foreach (var (tokens, targets) in batches)
        {
            float[]? x = null;
            for (int h = 0; h < hops.Length - 1; h++) x = _workers[hops[h].Stage].Forward(hops[h].Parts, h == 0 ? tokens : null, x, _b, _t);
            total += _workers[hops[^1].Stage].Loss(hops[^1].Parts, null, x, targets, _b, _t);
        }
        return total / batches.Count;
    });

    /// <summary>Refreshes the exact copies of the embedding (kept by stage 1) and of the head (kept by stage S−2).</summary>
    public void Replicate() => TorchGuard.Run(() =>
    {
        _embeddingCopy = _workers[0].Export(WeightPart.Embedding);
        _headCopy = _workers[^1].Export(WeightPart.Head);
    });

    /// <summary>CheckFree: stage s ← ω-weighted average of its neighbours' blocks, fresh AdamW, lr × 1.1.</summary>
    public (double Previous, double Next) RebuildByAverage(int stage) => TorchGuard.Run(() =>
    {
        var before = _workers[stage - 1];
        var after = _workers[stage + 1];
        var blocks = CheckFreeRecovery.Rebuild(before.Export(WeightPart.Blocks)!, before.GradNormWeight,
            after.Export(WeightPart.Blocks)!, after.GradNormWeight);
        Replace(stage, w => w.Import(WeightPart.Blocks, blocks));
        return (before.GradNormWeight, after.GradNormWeight);
    });

    /// <summary>First or last stage: the neighbour's blocks plus the replicated embedding or head.</summary>
    public void RebuildByCopy(int stage) => TorchGuard.Run(() =>
    {
        bool first = stage == 0;
        var blocks = _workers[first ? 1 : stage - 1].Export(WeightPart.Blocks)!;
        var copy = first ? _embeddingCopy : _headCopy;
        Replace(stage, w =>
        {
            w.Import(WeightPart.Blocks, blocks);
            if (copy is not null) w.Import(first ? WeightPart.Embedding : WeightPart.Head, copy);
        });
    });

    /// <summary>Every stage's full state (weights, AdamW, counters).</summary>
    public byte[][] Checkpoint() => TorchGuard.Run(() => _workers.Select(w => w.SaveState()).ToArray());

    /// <summary>Rolls every stage back to a checkpoint (the restart baseline loses all work since).</summary>
    public void Restore(byte[][] checkpoint) => TorchGuard.Run(() =>
    {
        for (int s = 0; s < _workers.Length; s++)
        {
            Replace(s, null);
            _workers[s].LoadState(checkpoint[s]);
        }
    });

    private void Replace(int stage, Action<StageWorker>? initialise)
    {
        var old = _workers[stage];
        double scale = initialise is null ? 1.0 : _options.RecoveryLrScale;
        _workers[stage] = new StageWorker(_options, stage, scale, initialise);
        if (initialise is not null) _workers[stage].SetSteps(old.Steps);
        old.Dispose();
    }

    public void Dispose()
    {
        foreach (var w in _workers) w.Dispose();
    }
}
