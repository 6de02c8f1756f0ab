using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Pipeline;

[Collection("Pipeline")]
public sealed class PipelinePartsTests
{
    private static readonly Dictionary<string, long> Alone = new();

    internal static PipelineOptions Options(int stages = 3) => new()
    {
        Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 3, Heads: 2, ContextLength: 16),
        StageCount = stages,
        Inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 0, TotalSteps: 100, MicroBatchSize: 4, SequenceLength: 16),
        Seed = 9,
    };

    [Fact]
    public void StageWorkersChainedGiveTheFullModelsLoss()
    {
        var options = Options();
        var (tokens, targets) = Batch(options, seed: 1);
        double expected;
        using (var scope = NewDisposeScope())
        using (var full = new ModelStage(options.Model, 0, 1, options.Seed))
        using (var noGrad = no_grad())
        {
            var logits = full.forward(torch.tensor(tokens, new long[] { 4, 16 }));
            expected = nn.functional.cross_entropy(logits.reshape(64, -1), torch.tensor(targets)).item<float>();
        }
        var workers = Enumerable.Range(0, 3).Select(s => new StageWorker(options, s)).ToArray();
        try
        {
            var h0 = workers[0].Forward(HopParts.Embed | HopParts.Blocks, tokens, null, 4, 16);
            var h1 = workers[1].Forward(HopParts.Blocks, null, h0, 4, 16);
            var (loss, grad) = workers[2].LossBackward(HopParts.Blocks | HopParts.Head, null, h1, targets, 4, 16);
            Assert.Equal(expected, loss, 4);
            Assert.NotNull(grad);
            Assert.Equal(4 * 16 * 32, grad!.Length);
            Assert.Contains(grad, g => g != 0);
        }
        finally { foreach (var w in workers) w.Dispose(); }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingThroughTheRouteLowersTheLoss(bool swapped)
    {
        var options = Options();
        var workers = Enumerable.Range(0, 3).Select(s => new StageWorker(options, s)).ToArray();
        try
        {
            var (tokens, targets) = Batch(options, seed: 2);
            double first = double.NaN, last = double.NaN;
            for (int step = 0; step < 30; step++)
            {
                last = RunRoute(workers, MicrobatchRoute.Hops(3, swapped, step), tokens, targets);
                if (step == 0) first = last;
            }
            Assert.True(last < first * 0.7, $"loss {first:F3} -> {last:F3} (swapped {swapped})");
            Assert.All(workers, w => Assert.True(w.Steps > 0));
        }
        finally { foreach (var w in workers) w.Dispose(); }
    }

    [Fact]
    public void RoutesAndOuterRoundsDoNotLeakTensors()
    {
        var options = Options();
        var workers = Enumerable.Range(0, 3).Select(s => new StageWorker(options, s)).ToArray();
        try
        {
            var (tokens, targets) = Batch(options, seed: 3);
            void Run(int from, int to)
            {
                for (int step = from; step < to; step++)
                {
                    RunRoute(workers, MicrobatchRoute.Hops(3, step % 2 == 0, step), tokens, targets);
                    if (step % 5 == 4)
                        foreach (var w in workers)
                        {
                            w.BeginRound(Alone);
                            Assert.True(w.TickRound(Alone).Ready);   // a lone replica has nobody to wait for
                            w.ApplyRound();
                        }
                }
            }
            Run(0, 10);
            long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            Run(10, 40);
            long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            Assert.True(after <= live, $"live tensors grew from {live} to {after} over 30 microbatches");
            Assert.All(workers, w => Assert.Equal(8, w.Round));
        }
        finally { foreach (var w in workers) w.Dispose(); }
    }

    /// <summary>Runs one microbatch along a route in this process, the way peers chain hops, and returns its loss.</summary>
    internal static double RunRoute(StageWorker[] workers, PipelineHop[] hops, long[] tokens, long[] targets)
    {
        var inputs = new float[]?[hops.Length];
        float[]? x = null;
        for (int h = 0; h < hops.Length - 1; h++)
        {
            inputs[h] = x;
            x = workers[hops[h].Stage].Forward(hops[h].Parts, h == 0 ? tokens : null, x, 4, 16);
        }
        var (loss, grad) = workers[hops[^1].Stage].LossBackward(hops[^1].Parts, null, x, targets, 4, 16);
        for (int h = hops.Length - 2; h >= 0; h--)
            grad = workers[hops[h].Stage].Backward(hops[h].Parts, h == 0 ? tokens : null, inputs[h], grad!, 4, 16);
        Assert.Null(grad);   // the embedding hop has no input gradient
        return loss;
    }

    [Fact]
    public void RoutesVisitEveryStageOnceAndSwapTheEnds()
    {
        Assert.Equal(new[] { 0, 1, 2, 3 }, MicrobatchRoute.BlockOrder(4, false, 7));
        Assert.Equal(new[] { 1, 0, 3, 2 }, MicrobatchRoute.BlockOrder(4, true, 7));
        Assert.Equal(new[] { 1, 0, 2 }, MicrobatchRoute.BlockOrder(3, true, 2));
        Assert.Equal(new[] { 0, 2, 1 }, MicrobatchRoute.BlockOrder(3, true, 3));
        var inOrder = MicrobatchRoute.Hops(3, false, 0);
        Assert.Equal(new[] { new PipelineHop(0, HopParts.Embed | HopParts.Blocks), new(1, HopParts.Blocks), new(2, HopParts.Blocks | HopParts.Head) }, inOrder);
        var swapped = MicrobatchRoute.Hops(3, true, 0);
        Assert.Equal(new[] { new PipelineHop(0, HopParts.Embed), new(1, HopParts.Blocks), new(0, HopParts.Blocks), new(2, HopParts.Blocks | HopParts.Head) }, swapped);
        Assert.True(MicrobatchRoute.IsValid(swapped, 3, 0));
        Assert.False(MicrobatchRoute.IsValid(swapped, 3, 1));
        int swaps = Enumerable.Range(0, 10_000).Count(i => MicrobatchRoute.IsSwapped(0.5, 3, i));
        Assert.InRange(swaps, 4_700, 5_300);
    }

    [Fact]
    public void CheckFreeWeighsTheLessConvergedNeighbourMore()
    {
        var rebuilt = CheckFreeRecovery.Rebuild([1f, 2f], 3.0, [5f, 6f], 1.0);
        Assert.Equal(new[] { 2f, 3f }, rebuilt);   // (3·1 + 1·5)/4, (3·2 + 1·6)/4
        Assert.Equal(0.5 + 1e-4, CheckFreeRecovery.Weight(0.5), 12);
        Assert.Equal(1e-4, CheckFreeRecovery.Weight(double.NaN), 12);
        using var scope = NewDisposeScope();
        var t = CheckFreeRecovery.Rebuild(torch.tensor(new[] { 1f, 2f }), 3.0, torch.tensor(new[] { 5f, 6f }), 1.0);
        Assert.Equal(new[] { 2f, 3f }, t.data<float>().ToArray());
    }

    [Fact]
    public void AssignmentFillsTheEmptiestStageAndMovesOnePeerFromTheFullest()
    {
        Assert.Equal(1, StageAssignment.ForJoiner([2, 0, 2]));
        Assert.Equal(0, StageAssignment.ForJoiner([1, 1, 1]));
        Assert.Equal(2, StageAssignment.ForJoiner([1, 1, 1], configured: 2));
        var view = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["e"] = 2, ["f"] = 2, ["g"] = 2 };
        Assert.Equal(1, StageAssignment.MoveFor("e", view, 3, _ => true));          // stage 2 has most; e is its smallest id
        Assert.Null(StageAssignment.MoveFor("f", view, 3, _ => true));
        Assert.Null(StageAssignment.MoveFor("a", view, 3, _ => true));
        Assert.Null(StageAssignment.MoveFor("e", view, 3, _ => false));            // never seen: joiners fill it
        Assert.Null(StageAssignment.MoveFor("a", new Dictionary<string, int> { ["a"] = 0, ["e"] = 2 }, 3, _ => true)); // nobody can spare a peer
    }

    [Theory]
    [InlineData(ActivationCodecKind.Bf16, 0.008)]
    [InlineData(ActivationCodecKind.Int8, 0.02)]
    [InlineData(ActivationCodecKind.Fp32, 0.0)]
    public void ActivationsRoundTripWithinTheCodecsPrecision(ActivationCodecKind kind, double relative)
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 1000).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var bytes = ActivationCodec.Encode(kind, values);
        Assert.Equal(ActivationCodec.EncodedBytes(kind, values.Length), bytes.Length);
        var back = ActivationCodec.Decode(kind, bytes, values.Length);
        for (int i = 0; i < values.Length; i++) Assert.True(Math.Abs(back[i] - values[i]) <= relative * 2 + 1e-7, $"value {i}: {values[i]} -> {back[i]}");
        if (kind == ActivationCodecKind.Bf16) Assert.Equal(2000, bytes.Length);
    }

    [Fact]
    public void MalformedActivationsAreTypedErrors()
    {
        var bytes = ActivationCodec.Encode(ActivationCodecKind.Bf16, new float[64]);
        var e = Assert.Throws<PipelineProtocolException>(() => ActivationCodec.Decode(ActivationCodecKind.Bf16, bytes, 65));
        Assert.Equal(PipelineErrorCode.BadShape, e.Code);
        bytes[10] = 0x80; bytes[11] = 0x7F;   // bf16 +infinity
        Assert.Equal(PipelineErrorCode.NonFinite, Assert.Throws<PipelineProtocolException>(() => ActivationCodec.Decode(ActivationCodecKind.Bf16, bytes, 64)).Code);
        Assert.Equal(PipelineErrorCode.NonFinite, Assert.Throws<PipelineProtocolException>(() => ActivationCodec.Encode(ActivationCodecKind.Bf16, [float.NaN])).Code);
        Assert.Equal(PipelineErrorCode.BadCodec, Assert.Throws<PipelineProtocolException>(() => ActivationCodec.Decode((ActivationCodecKind)9, bytes, 64)).Code);
    }

    internal static (long[] Tokens, long[] Targets) Batch(PipelineOptions options, int seed)
    {
        var source = TestCorpus.Data.ForReplica(seed, 0, 1, 4, 16);
        var buffer = new long[4 * 17];
        source.Next(buffer);
        var tokens = new long[64];
        var targets = new long[64];
        for (int r = 0; r < 4; r++)
        {
            Array.Copy(buffer, r * 17, tokens, r * 16, 16);
            Array.Copy(buffer, r * 17 + 1, targets, r * 16, 16);
        }
        return (tokens, targets);
    }
}
