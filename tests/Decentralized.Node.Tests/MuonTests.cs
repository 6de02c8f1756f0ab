using Decentralized.Node.Checkpoints;
using Decentralized.Node.Model;
using Decentralized.Node.Training;
using Decentralized.Node.Training.Reference;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

/// <summary>
/// Muon as the inner optimizer: the orthogonalisation does what Muon needs and matches its scalar twin, the optimizer
/// step is the references' formula, training with it learns, and a checkpoint resumes it exactly.
/// </summary>
[Collection("torch")]
public sealed class MuonTests
{
    public static TheoryData<string, int, int, int> Shapes => new()
    {
        { "muon", 24, 40, 1 }, { "muon", 64, 16, 2 }, { "muon", 40, 24, 3 },
        { "muloco", 24, 40, 1 }, { "muloco", 64, 16, 2 }, { "muloco", 40, 24, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NewtonSchulzIsNearOrthogonalAndMatchesTheReferenceTwin(string name, int rows, int cols, int seed)
    {
        var variant = InnerOptimizerNames.Parse(name).Variant()!;
        var random = new Random(seed);
        var g = Enumerable.Range(0, rows * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var input = tensor(g).reshape(rows, cols);
        using var fast = NewtonSchulz.Orthogonalize(input, variant.Coefficients, variant.Epsilon);
        var reference = NewtonSchulzReference.Orthogonalize(g, rows, cols, variant.Coefficients, variant.Epsilon);
        var got = fast.data<float>().ToArray();
        double worst = got.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 2e-5, $"{name} {rows}x{cols} seed {seed}: fast and reference differ by {worst:E2}");
        // Rectangular uniform matrices keep σ_min/σ_max well away from 0, so every singular value reaches the band.
        using var sigma = linalg.svdvals(fast.to_type(ScalarType.Float64));
        var s = sigma.data<double>().ToArray();
        Assert.True(s.Min() > 0.5 && s.Max() < 1.5, $"{name} {rows}x{cols} seed {seed}: singular values {s.Min():F3}..{s.Max():F3}, outside 0.5..1.5");
    }

    [Theory]
    [InlineData("muon")] [InlineData("muloco")]
    public void ZeroGradientGivesAZeroUpdateNotNaN(string name)
    {
        var variant = InnerOptimizerNames.Parse(name).Variant()!;
        using var zero = zeros(8, 12);
        using var x = NewtonSchulz.Orthogonalize(zero, variant.Coefficients, variant.Epsilon);
        Assert.All(x.data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    /// <summary>
    /// One step from fresh state, checked against the references' formula computed with the scalar twin: each block
    /// matrix moves by W ← (1 − lr·λ)·W − lr·s·NS(u), and the head (AdamW's) by about lr per entry, as Adam's first step does.
    /// </summary>
    [Theory]
    [InlineData("muon")] [InlineData("muloco")]
    public void OneStepIsTheReferencesUpdateOnMatricesAndAdamWOnTheRest(string name)
    {
        var inner = new InnerOptions(LearningRate: 3e-3, WarmupSteps: 0, TotalSteps: 10, MicroBatchSize: 8, SequenceLength: 32,
            Optimizer: InnerOptimizerNames.Parse(name), GradientClipNorm: 0);
        var variant = inner.Optimizer.Variant()!;
        using var model = new ModelStage(TestCorpus.TinyModel, seed: 3);
        using var trainer = new InnerTrainer(model, inner, CPU);
        var hidden = model.HiddenMatrices().ToArray();
        Assert.Equal(TestCorpus.TinyModel.Layers * 7, hidden.Length);   // wq wk wv wo w1 w2 w3 per block
        var before = hidden.Select(p => p.data<float>().ToArray()).ToArray();
        var head = model.HeadParameters().Last();
        var headBefore = head.data<float>().ToArray();
        var data = TestCorpus.Data.ForReplica(1, 0, 1, inner.MicroBatchSize, inner.SequenceLength);
        trainer.TrainStep(data.Next, new long[trainer.MicroBatchTokens]);

        double lr = inner.EffectiveMuonLearningRate, beta = inner.MuonMomentum, decay = inner.MuonWeightDecay;
        for (int i = 0; i < hidden.Length; i++)
        {
            int rows = (int)hidden[i].shape[0], cols = (int)hidden[i].shape[1];
            // From zero momentum: Keller's u = (1−β)g + β(1−β)g; MuLoCo's u = g.
            float factor = variant.Nesterov ? (float)((1 - beta) * (1 + beta)) : 1f;
            var u = hidden[i].grad!.data<float>().ToArray().Select(v => v * factor).ToArray();
            var x = NewtonSchulzReference.Orthogonalize(u, rows, cols, variant.Coefficients, variant.Epsilon);
            double scale = lr * variant.ShapeScale(rows, cols);
            var after = hidden[i].data<float>().ToArray();
            double worst = after.Select((w, j) => Math.Abs(w - ((1 - lr * decay) * before[i][j] - scale * x[j]))).Max();
            Assert.True(worst < 1e-6, $"{name}: matrix {i} ({rows}x{cols}) is {worst:E2} away from the Muon update");
        }
        var headAfter = head.data<float>().ToArray();
        double adamLr = inner.LearningRate, adamDecay = inner.WeightDecay;
        var moved = headAfter.Select((w, j) => Math.Abs((1 - adamLr * adamDecay) * headBefore[j] - w)).Order().ToArray();
        double median = moved[moved.Length / 2];
        Assert.True(median > 0.9 * adamLr && moved[^1] < 1.01 * adamLr, $"{name}: head moved {median:E2} (median), AdamW's first step moves about {adamLr:E2}");
    }

    [Theory]
    [InlineData(Algorithm.Ddp, InnerOptimizer.Muon)] [InlineData(Algorithm.DiLoCo, InnerOptimizer.Muon)]
    [InlineData(Algorithm.Ddp, InnerOptimizer.MuLoCo)] [InlineData(Algorithm.DiLoCo, InnerOptimizer.MuLoCo)]
    public void TrainingWithMuonLowersTheValidationLoss(Algorithm algorithm, InnerOptimizer optimizer)
    {
        var options = WithOptimizer(TestCorpus.Options(algorithm, replicas: 2, steps: 80, h: 10), optimizer);
        using var run = TestCorpus.Run(options);
        double before = run.Replicas[0].Trainer.Evaluate(TestCorpus.Data.Validation(8, 32, 4));
        var result = run.Run();
        Assert.True(result.ValLoss < before - 1.0, $"{algorithm}/{optimizer.Name()}: loss {before:F3} -> {result.ValLoss:F3}");
    }

    [Theory]
    [InlineData(Algorithm.Ddp, InnerOptimizer.Muon)] [InlineData(Algorithm.DiLoCo, InnerOptimizer.Muon)] [InlineData(Algorithm.NoLoCo, InnerOptimizer.MuLoCo)]
    public void ResumeFromCheckpointGivesIdenticalWeights(Algorithm algorithm, InnerOptimizer optimizer)
    {
        var options = WithOptimizer(TestCorpus.Options(algorithm, replicas: 2, steps: 30, h: 10), optimizer);
        var path = Path.Combine(Path.GetTempPath(), $"resume-muon-{Guid.NewGuid():N}.ckpt");
        try
        {
            float[][] straight;
            using (var run = TestCorpus.Run(options)) { run.Run(); straight = Weights(run); }
            using (var first = TestCorpus.Run(options)) { first.Run(stopAfter: 15); ComparisonCheckpoint.Save(path, first, options, "fp32"); }
            using var second = TestCorpus.Run(options);
            ComparisonCheckpoint.Load(path, second, options, "fp32");
            second.Run();
            var resumed = Weights(second);
            for (int r = 0; r < straight.Length; r++) Assert.Equal(straight[r], resumed[r]);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(InnerOptimizer.AdamW, InnerOptimizer.Muon)] [InlineData(InnerOptimizer.Muon, InnerOptimizer.AdamW)] [InlineData(InnerOptimizer.Muon, InnerOptimizer.MuLoCo)]
    public void CheckpointOfAnotherInnerOptimizerIsRefusedByName(InnerOptimizer saved, InnerOptimizer loading)
    {
        var options = TestCorpus.Options(Algorithm.DiLoCo, replicas: 2, steps: 4, h: 2);
        var path = Path.Combine(Path.GetTempPath(), $"foreign-muon-{Guid.NewGuid():N}.ckpt");
        try
        {
            using (var run = TestCorpus.Run(WithOptimizer(options, saved))) { run.Run(); ComparisonCheckpoint.Save(path, run, WithOptimizer(options, saved), "fp32"); }
            var other = WithOptimizer(options, loading);
            using var target = TestCorpus.Run(other);
            var error = Assert.Throws<CheckpointException>(() => ComparisonCheckpoint.Load(path, target, other, "fp32"));
            Assert.Contains($"holds {saved.Name()} inner optimizer state", error.Message);
            Assert.Contains($"--inner-optimizer {loading.Name()}", error.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(-0.01, 0.95, 0.01)] [InlineData(double.NaN, 0.95, 0.01)] [InlineData(0.02, 1.0, 0.01)] [InlineData(0.02, -0.1, 0.01)] [InlineData(0.02, 0.95, -1)]
    public void InvalidMuonOptionsAreRefused(double lr, double momentum, double decay) =>
        Assert.Throws<ArgumentException>(() => new InnerOptions(Optimizer: InnerOptimizer.Muon, MuonLearningRate: lr, MuonMomentum: momentum, MuonWeightDecay: decay).Validate());

    [Fact]
    public void MuonRateFollowsTheAdamWScheduleScaledToItsPeak()
    {
        var inner = new InnerOptions(LearningRate: 1e-3, WarmupSteps: 10, TotalSteps: 100, Optimizer: InnerOptimizer.Muon).Validate();
        Assert.Equal(0.02, inner.EffectiveMuonLearningRate);
        Assert.Equal(0.01, (inner with { Optimizer = InnerOptimizer.MuLoCo }).EffectiveMuonLearningRate);
        Assert.Equal(0.05, (inner with { MuonLearningRate = 0.05 }).EffectiveMuonLearningRate);
        foreach (long step in new long[] { 0, 5, 10, 50, 99 })
            Assert.Equal(inner.LearningRateAt(step) * 20, inner.MuonLearningRateAt(step), 12);
    }

    [Fact]
    public void MuonStepsDoNotLeakTensors()
    {
        var options = WithOptimizer(TestCorpus.Options(Algorithm.Ddp, replicas: 2, steps: 40, h: 10), InnerOptimizer.Muon);
        using var run = TestCorpus.Run(options);
        run.Run(stopAfter: 10);
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        run.Run(stopAfter: 40);
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after <= live, $"live tensors grew from {live} to {after} over 30 Muon steps");
    }

    private static ComparisonOptions WithOptimizer(ComparisonOptions options, InnerOptimizer optimizer) =>
        options with { Inner = options.Inner with { Optimizer = optimizer } };

    private static float[][] Weights(LocalComparison run) =>
        run.Replicas.Select(r => { using var w = r.Trainer.Flat.Snapshot(); return w.data<float>().ToArray(); }).ToArray();
}
