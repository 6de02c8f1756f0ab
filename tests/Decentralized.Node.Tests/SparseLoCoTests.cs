using Decentralized.Kernels;
using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using Decentralized.Node.Tests.Rounds;
using Decentralized.Node.Training;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

/// <summary>SparseLoCo as a user of <c>train</c> and of the round engine would notice it: it learns, it sends two orders of magnitude less, it refuses garbage.</summary>
[Collection("torch")]
public sealed class SparseLoCoTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void TrainLearnsAndSendsOverAHundredTimesFewerBytesThanFp32DiLoCo()
    {
        // The tiny test model is 32 wide, so its tiles are 64 x 32: k = 32 keeps the 1.56% that k = 64 keeps of a
        // 64 x 64 tile (production's density). 1-D norms go whole (2 bits a value), as production's do.
        var options = TestCorpus.Options(Algorithm.DiLoCo, replicas: 3, steps: 60, h: 10) with { EvalBatches = 2 };
        using var diloco = TestCorpus.Run(options);
        using var sparse = TestCorpus.Run(options with { Algorithm = Algorithm.SparseLoCo, SparseLoCo = new SparseLoCoOptions(K: 32) });
        double before = sparse.Replicas[0].Trainer.Evaluate(TestCorpus.Data.Validation(8, 32, 2));
        var dense = diloco.Run();
        var result = sparse.Run();
        double ratio = (double)dense.BytesSentPerReplica / result.BytesSentPerReplica;
        Assert.True(ratio >= 100, $"{ratio:F0}x fewer bytes ({result.BytesSentPerReplica} vs fp32 DiLoCo {dense.BytesSentPerReplica})");
        output.WriteLine($"SparseLoCo {before:F3} -> {result.ValLoss:F3}, fp32 DiLoCo {dense.ValLoss:F3}; {ratio:F0}x fewer bytes");
        // Six rounds at 1.56% a round touch few coordinates (measured 4.01 against DiLoCo's 2.18): the comparison at
        // equal quality needs hundreds of rounds (docs/RESULTS.md); here it must learn.
        Assert.True(result.ValLoss < before - 1.0, $"loss {before:F3} -> {result.ValLoss:F3} (fp32 DiLoCo {dense.ValLoss:F3})");
    }

    [Fact]
    public void TheGossipVariantLearnsInPairsAndSendsAThirdOfAllToAll()
    {
        // Four rounds: φ moves by 1.6% of its coordinates a round, so two rounds leave it near the start.
        var options = TestCorpus.Options(Algorithm.SparseLoCo, replicas: 4, steps: 40, h: 10) with { EvalBatches = 2 };
        using var all = TestCorpus.Run(options);
        using var pairs = TestCorpus.Run(options with { SparseLoCo = new SparseLoCoOptions(GroupSize: 2) });
        double before = pairs.Replicas[0].Trainer.Evaluate(TestCorpus.Data.Validation(8, 32, 2));
        var a = all.Run();
        var p = pairs.Run();
        // All-to-all sends each blob to 3 others, pairs to 1: the blobs differ only in their values' statistics.
        Assert.InRange((double)a.BytesSentPerReplica / p.BytesSentPerReplica, 2.9, 3.1);
        output.WriteLine($"pairs {before:F3} -> {p.ValLoss:F3}, all-to-all {a.ValLoss:F3}; bytes {p.BytesSentPerReplica} vs {a.BytesSentPerReplica}");
        Assert.True(p.ValLoss < before - 0.8, $"pairs: loss {before:F3} -> {p.ValLoss:F3} (all-to-all {a.ValLoss:F3})");
        Assert.True(p.ReplicaSpread > 0, "replicas exchanging in random pairs should drift apart");
        Assert.True(a.ReplicaSpread == 0, $"all-to-all replicas should agree, spread {a.ReplicaSpread}");
    }

    [Fact]
    public void TheStepAveragesEachCoordinateOverItsSendersAfterClippingToTheMedianNorm()
    {
        using var initial = zeros(4);
        using var method = new SparseLoCoMethod(initial, [[4]], new SparseLoCoOptions());
        using var scope = NewDisposeScope();
        // Norms √5, 3 and 0: the median √5 scales the second by √5/3; coordinate 1 nobody sent, 2 only the first.
        var group = new[] { new Contribution(tensor(new[] { 1f, 0, 2, 0 }), null), new Contribution(tensor(new[] { 3f, 0, 0, 0 }), null), new Contribution(zeros(4), null) };
        method.Step(Payload.Sparse, group, consolidate: false);
        float clipped = 3f * MathF.Sqrt(5) / 3f;
        var phi = EngineHarness.Values(method.Slow);
        Assert.Equal(-(1f + clipped) / 2, phi[0], 5);
        Assert.Equal(0f, phi[1]);
        Assert.Equal(-2f, phi[2], 5);
        Assert.Equal(0f, phi[3]);
    }

    [Fact]
    public void TheAccumulatorKeepsWhatWasNotSentAndDecaysByBeta()
    {
        using var initial = zeros(64);
        using var method = new SparseLoCoMethod(initial, [[4, 16]], new SparseLoCoOptions(K: 2, Beta: 0.5));
        var delta = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i + 1)).ToArray();
        using var fast = -tensor(delta);   // Δ = φ − θ = delta
        var (e, _) = method.Update(fast, method.Slow, Payload.Sparse);
        Assert.Equal(delta, e);
        var blob = method.OwnCodec.Encode(e, "delta", 0);
        var sent = new float[64];
        method.OwnCodec.DecodeInto(blob, sent);
        Assert.Equal(2, sent.Count(v => v != 0));   // one 4 x 16 tile, k = 2
        var residual = EngineHarness.Values(method.Momentum);
        for (int i = 0; i < 64; i++) Assert.Equal(delta[i] - sent[i], residual[i]);
        var (next, _) = method.Update(fast, method.Slow, Payload.Sparse);
        for (int i = 0; i < 64; i++) Assert.Equal(0.5f * residual[i] + delta[i], next[i], 6);
    }

    [Fact]
    public void AMalformedSparseBlobIsRefusedAndTheRoundGoesOnWithTheOthers()
    {
        using var h = new EngineHarness();
        Func<Tensor, IOuterMethod> sparse = s => new SparseLoCoMethod(s, [[1, 3]], new SparseLoCoOptions());
        var phi = new[] { 1f, 2f, 3f };
        var a = h.Add("a", phi, sparse);
        h.Add("b", phi, sparse);
        h.Add("c", phi, sparse);
        var fast = new Dictionary<string, float[]> { ["a"] = [0.9f, 2f, 3f], ["b"] = [1f, 1.8f, 3f], ["c"] = [1f, 2f, 3.3f] };
        var sent = h.Members.ToDictionary(m => m.Key, m => m.Value.Begin(tensor(fast[m.Key]), h.LiveFor(m.Key)));
        Assert.All(sent.Values, o => Assert.Equal(Payload.Sparse, o.Payload));
        var bad = (byte[])sent["c"].Blob.Clone();
        bad[^1] ^= 0xFF;   // the last tensor's codes: a set padding bit
        var verdict = a.OnUpdate("c", 0, Payload.Sparse, bad);
        Assert.Equal(UpdateVerdict.Refused, verdict.Verdict);
        Assert.Contains(nameof(CodecErrorCode.Malformed), verdict.Reason);
        Assert.Equal(UpdateVerdict.Accepted, a.OnUpdate("b", 0, Payload.Sparse, sent["b"].Blob).Verdict);
        Assert.True(a.OnTick().Ready);
        var applied = a.Apply(tensor(fast["a"]));
        applied.Fast.Dispose();
        var outcome = Assert.Single(applied.Outcomes);
        Assert.Equal(["b"], outcome.Used);
        Assert.NotEqual(phi, EngineHarness.Values(a.Method.Slow));
    }
}
