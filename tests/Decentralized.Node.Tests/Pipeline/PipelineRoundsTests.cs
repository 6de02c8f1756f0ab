using Decentralized.Node.Pipeline;
using Decentralized.Node.Rounds;
using static Decentralized.Node.Tests.Pipeline.PipelinePartsTests;

namespace Decentralized.Node.Tests.Pipeline;

/// <summary>
/// Two replicas of a middle stage run outer rounds on their round engines in this process (the blobs handed over as the
/// outer protocol carries them): what they send, the step they take, and that a stage never loses the AdamW steps it
/// took while the exchange was open.
/// </summary>
[Collection("Pipeline")]
public sealed class PipelineRoundsTests
{
    [Fact]
    public void ReplicasAverageAndKeepTheStepsTakenWhileTheRoundWasOpen()
    {
        using var replicas = new Replicas(Options());
        var phi = replicas.A.Export(WeightPart.Blocks)!;           // φ: both start from the seed's weights
        replicas.Train(steps: 3);
        var thetaA = replicas.A.Export(WeightPart.Blocks)!;
        var thetaB = replicas.B.Export(WeightPart.Blocks)!;
        var (toB, toA) = replicas.Begin();
        replicas.Step(replicas.A, seed: 7);                         // a microbatch through A while the exchange is open
        var nowA = replicas.A.Export(WeightPart.Blocks)!;
        replicas.Deliver(toB, toA);

        // NoLoCo with γ = β and both φ equal: φ' = φ + β·(mean θ − φ); A then adds back the step it took meanwhile.
        double beta = replicas.Options.Outer.Beta;
        var a = replicas.A.Export(WeightPart.Blocks)!;
        var b = replicas.B.Export(WeightPart.Blocks)!;
        for (int i = 0; i < phi.Length; i++)
        {
            double averaged = phi[i] + beta * ((thetaA[i] + thetaB[i]) / 2 - phi[i]);
            Assert.Equal(averaged, b[i], 5);
            Assert.Equal(averaged + (nowA[i] - thetaA[i]), a[i], 5);
        }
        Assert.Equal(1, replicas.A.Round);
        Assert.Equal(1, replicas.B.Round);
    }

    /// <summary>--overlap: round r's exchange is applied when round r+1 begins, and the steps taken meanwhile stay.</summary>
    [Fact]
    public void WithOverlapEachRoundLandsOneRoundLate()
    {
        using var replicas = new Replicas(Options() with { Rounds = new RoundOptions { Overlap = true } });
        replicas.Train(steps: 2);
        var trainedA = replicas.A.Export(WeightPart.Blocks)!;
        var trainedB = replicas.B.Export(WeightPart.Blocks)!;
        var (toB, toA) = replicas.Begin();
        var (first, _) = replicas.Close(toB, toA);
        Assert.Empty(first);                                          // nothing was due yet: round 0 is still in flight
        var unchanged = replicas.A.Export(WeightPart.Blocks)!;
        for (int i = 0; i < trainedA.Length; i++) Assert.Equal(trainedA[i], unchanged[i], 5);
        replicas.Train(steps: 2);
        var fastA = replicas.A.Export(WeightPart.Blocks)!;
        var fastB = replicas.B.Export(WeightPart.Blocks)!;
        var (toB1, toA1) = replicas.Begin();
        var (second, _) = replicas.Close(toB1, toA1);
        Assert.Equal(0, second.Single().Round);                       // round 0 lands as round 1 begins
        Assert.Equal(["b"], second.Single().Used);
        // Both took the same step on the same round-0 weights; each keeps the steps it took since.
        var a = replicas.A.Export(WeightPart.Blocks)!;
        var b = replicas.B.Export(WeightPart.Blocks)!;
        for (int i = 0; i < a.Length; i++)
            Assert.Equal((fastA[i] - trainedA[i]) - (fastB[i] - trainedB[i]), a[i] - b[i], 5);
    }

    [Fact]
    public void CompressedRoundsSendUnderAThirdOfTheBytesAndStillAverage()
    {
        using var fp32 = new Replicas(Options());
        using var compressed = new Replicas(Options() with { Compress = "q4:bf16+ef+ans" });
        long plain = 0, small = 0;
        double before = 0, after = 0;
        for (int round = 0; round < 2; round++)
        {
            fp32.Train(steps: 3);
            compressed.Train(steps: 3);
            before = Distance(compressed);
            var (p, pBack) = fp32.Begin();
            fp32.Deliver(p, pBack);
            var (c, cBack) = compressed.Begin();
            compressed.Deliver(c, cBack);
            plain += p.Blob.Length;
            small += c.Blob.Length;
            after = Distance(compressed);
        }
        Assert.Equal(Payload.FastWeights, fp32.A.Payload);
        Assert.Equal(Payload.AnchoredFast, compressed.A.Payload);   // offsets from the stage's seed weights, through --weights-compress
        Assert.True(small * 3 < plain, $"compressed rounds sent {small} bytes, fp32 ones {plain}");
        Assert.True(after < 0.5 * before, $"replicas {before:G3} apart before the round, {after:G3} after: the round did not average them");
    }

    [Fact]
    public void AMalformedUpdateIsRefusedAndTheRoundClosesWithoutIt()
    {
        using var replicas = new Replicas(Options());
        replicas.Train(steps: 2);
        var (toB, _) = replicas.Begin();
        var garbage = toB.Blob.ToArray();
        Array.Fill(garbage, (byte)0xFF, 0, Math.Min(64, garbage.Length));
        Assert.Equal(UpdateVerdict.Refused, replicas.A.OnUpdate("b", toB.Round, toB.Payload, garbage).Verdict);
        Assert.Equal(UpdateVerdict.Refused, replicas.A.OnUpdate("b", toB.Round, Payload.DeltaAndSlow, toB.Blob).Verdict);
        // The partner leaves: the round closes without it and the stage goes on training from its own weights.
        var tick = replicas.A.TickRound(new Dictionary<string, long>());
        Assert.True(tick.Ready);
        var (outcomes, _) = replicas.A.ApplyRound();
        Assert.Empty(outcomes.Single().Used);
        replicas.Step(replicas.A, seed: 8);
        Assert.Equal(1, replicas.A.Round);
    }

    private static double Distance(Replicas r)
    {
        var a = r.A.Export(WeightPart.Blocks)!;
        var b = r.B.Export(WeightPart.Blocks)!;
        return Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
    }

    /// <summary>Stage 1 of 3 twice ("a" and "b"), trained on different batches through shared stages 0 and 2.</summary>
    private sealed class Replicas : IDisposable
    {
        private readonly StageWorker _first, _last;
        private int _batch;

        public Replicas(PipelineOptions options)
        {
            Options = options;
            _first = new StageWorker(options, 0);
            _last = new StageWorker(options, 2);
            A = new StageWorker(options, 1, self: "a");
            B = new StageWorker(options, 1, self: "b");
        }

        public PipelineOptions Options { get; }
        public StageWorker A { get; }
        public StageWorker B { get; }

        public void Train(int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                Step(A, seed: 10 + _batch++);
                Step(B, seed: 10 + _batch++);
            }
        }

        public void Step(StageWorker replica, int seed)
        {
            var (tokens, targets) = Batch(Options, seed);
            RunRoute([_first, replica, _last], MicrobatchRoute.Hops(3, false, 0), tokens, targets);
        }

        /// <summary>Both replicas open their round; each one's only target is the other.</summary>
        public (Outgoing ToB, Outgoing ToA) Begin()
        {
            var toB = A.BeginRound(new Dictionary<string, long> { ["b"] = B.Round });
            var toA = B.BeginRound(new Dictionary<string, long> { ["a"] = A.Round });
            Assert.Equal(["b"], toB.Targets);
            Assert.Equal(["a"], toA.Targets);
            return (toB, toA);
        }

        /// <summary>Hands each blob to the other replica, ticks both until ready and applies.</summary>
        public void Deliver(Outgoing toB, Outgoing toA)
        {
            var (a, b) = Close(toB, toA);
            Assert.Equal(["b"], a.Single().Used);
            Assert.Equal(["a"], b.Single().Used);
        }

        /// <summary>Hands each blob to the other replica and applies what is due on both; returns what each finished.</summary>
        public (IReadOnlyList<RoundOutcome> A, IReadOnlyList<RoundOutcome> B) Close(Outgoing toB, Outgoing toA)
        {
            Assert.Equal(UpdateVerdict.Accepted, B.OnUpdate("a", toB.Round, toB.Payload, toB.Blob).Verdict);
            Assert.Equal(UpdateVerdict.Accepted, A.OnUpdate("b", toA.Round, toA.Payload, toA.Blob).Verdict);
            Assert.True(A.TickRound(new Dictionary<string, long> { ["b"] = B.Round }).Ready);
            Assert.True(B.TickRound(new Dictionary<string, long> { ["a"] = A.Round }).Ready);
            return (A.ApplyRound().Outcomes, B.ApplyRound().Outcomes);
        }

        public void Dispose()
        {
            foreach (var w in new[] { _first, A, B, _last }) w.Dispose();
        }
    }
}
