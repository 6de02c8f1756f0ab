using System.Diagnostics;
using Decentralized.Node.Model;
using Decentralized.Node.Pipeline;
using Decentralized.Node.Training;
using Xunit.Abstractions;

namespace Decentralized.Node.Tests.Pipeline;

/// <summary>
/// Issue 7's acceptance runs: 3 stages × 2 replicas over real TCP on loopback; both replicas of one stage are killed,
/// a peer from the stage with most replicas rebuilds it, and the training loss must come back to within 10% of its
/// value before the failure within a bounded number of microbatches.
/// </summary>
[Collection("Pipeline")]
[Trait("Category", "Loopback")]
public sealed class PipelineLoopbackTests(ITestOutputHelper output)
{
    private const int Window = 24;
    private const int RecoveryMicrobatchesMax = 160;

    private static PipelineOptions Options(bool checkFreePlus) => new()
    {
        Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 3, Heads: 2, ContextLength: 32),
        StageCount = 3,
        Inner = new InnerOptions(LearningRate: 4e-3, WarmupSteps: 10, TotalSteps: 2000, MicroBatchSize: 8, SequenceLength: 32),
        InnerStepsPerRound = 10,
        CheckFreePlus = checkFreePlus,
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        PeerTimeout = TimeSpan.FromSeconds(2.5),   // generous: other test classes may share the two cores
        Seed = 11,
    };

    [Fact]
    public Task MiddleStageLostIsRebuiltFromItsNeighbours() =>
        RunAsync(Options(checkFreePlus: false), killStage: 1, StageRecoveryMethod.CheckFreeAverage);

    [Fact]
    public Task FirstStageLostIsRecoveredByCopyingWithCheckFreePlus() =>
        RunAsync(Options(checkFreePlus: true), killStage: 0, StageRecoveryMethod.CheckFreePlusCopy);

    /// <summary>
    /// Two replicas per stage with node run's <c>--compress q4:bf16+ef+ans</c>: their outer rounds send under a third of
    /// the bytes the same rounds take in fp32 (anchored weights through the weights chain), none is refused, and the
    /// pipeline still learns.
    /// </summary>
    [Fact]
    public async Task CompressedOuterRoundsSendFewerBytesAndThePipelineStillLearns()
    {
        var options = Options(checkFreePlus: false) with
        {
            Model = new ModelConfig(VocabSize: 256, Dim: 32, Layers: 2, Heads: 2, ContextLength: 32),
            StageCount = 2,
            InnerStepsPerRound = 5,
            Compress = "q4:bf16+ef+ans",
        };
        var alone = new Dictionary<string, long>();
        var fp32Blob = new long[2];
        for (int stage = 0; stage < 2; stage++)
            using (var plain = new StageWorker(options with { Compress = "fp32" }, stage)) fp32Blob[stage] = plain.BeginRound(alone).Blob.Length;
        await using var swarm = await LoopbackPipeline.StartAsync(options, [0, 0, 1, 1]);
        await WaitAsync(() => swarm.Losses().Count >= 200 && swarm.Peers.All(p => p.Round >= 3), TimeSpan.FromSeconds(120),
            "200 microbatches and three outer rounds on every replica");
        var losses = swarm.Losses();
        double initial = losses.Take(Window).Average(p => p.Loss), last = losses.TakeLast(Window).Average(p => p.Loss);
        foreach (var p in swarm.Peers)
            output.WriteLine($"stage {p.Stage}: {p.Round} rounds, {p.OuterBytesSent} bytes sent (fp32 rounds: {fp32Blob[p.Stage]} bytes each), " +
                $"partner's update used {p.PartnersUsed} of {p.PartnersAwaited} times, {p.RefusedUpdates} refused");
        output.WriteLine($"loss {initial:F3} -> {last:F3} over {losses.Count} microbatches");
        Assert.All(swarm.Peers, p =>
        {
            Assert.InRange(p.OuterBytesSent, 1, p.Round * fp32Blob[p.Stage] / 3);
            Assert.Equal(0, p.RefusedUpdates);
            Assert.True(p.PartnersUsed > 0, "no round averaged with the stage's other replica");
        });
        Assert.True(last < initial * 0.8, $"the compressed pipeline did not learn: {initial:F3} -> {last:F3}");
    }

    private async Task RunAsync(PipelineOptions options, int killStage, StageRecoveryMethod expected)
    {
        var clock = Stopwatch.StartNew();
        await using var swarm = await LoopbackPipeline.StartAsync(options, [0, 0, 1, 1, 2, 2]);
        var rebuilt = new TaskCompletionSource<StageRecovery>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool killed = false;
        swarm.StageTaken += (_, r) => { if (Volatile.Read(ref killed) && r.Stage == killStage) rebuilt.TrySetResult(r); };

        await WaitAsync(() => swarm.Losses().Count >= 260, TimeSpan.FromSeconds(90), "the pipeline to train 260 microbatches");
        var before = swarm.Losses();
        double pre = before.TakeLast(Window).Average(p => p.Loss);
        double initial = before.Take(Window).Average(p => p.Loss);
        output.WriteLine($"loss {initial:F3} at start, {pre:F3} before the failure ({before.Count} microbatches, {clock.Elapsed.TotalSeconds:F1} s)");
        Assert.True(pre < initial * 0.8, $"the pipeline did not learn before the failure: {initial:F3} -> {pre:F3}");

        Volatile.Write(ref killed, true);
        foreach (var victim in swarm.Peers.Where(p => p.Stage == killStage).ToArray()) await swarm.KillAsync(victim);
        var killedAt = DateTimeOffset.UtcNow;
        var recovery = await rebuilt.Task.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"stage {killStage} taken up by {recovery.Method} after {(DateTimeOffset.UtcNow - killedAt).TotalSeconds:F1} s (ω {recovery.PreviousWeight:G3} / {recovery.NextWeight:G3})");
        Assert.Equal(expected, recovery.Method);
        var recoveredAt = DateTimeOffset.UtcNow;

        int needed = -1;
        await WaitAsync(() =>
        {
            var after = swarm.Losses().Where(p => p.At >= recoveredAt).ToArray();
            for (int end = Window; end <= after.Length; end++)
                if (after.Skip(end - Window).Take(Window).Average(p => p.Loss) <= 1.1 * pre) { needed = end; return true; }
            return after.Length >= RecoveryMicrobatchesMax;
        }, TimeSpan.FromSeconds(60), "the loss to recover or the microbatch bound to pass");
        var afterAll = swarm.Losses().Where(p => p.At >= recoveredAt).ToArray();
        output.WriteLine($"first microbatches after recovery: loss {afterAll.Take(Window).Average(p => p.Loss):F3}; " +
            $"back within 10% of {pre:F3} after {needed} microbatches; total {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var e in swarm.Events) output.WriteLine(e);
        Assert.True(needed > 0 && needed <= RecoveryMicrobatchesMax,
            $"loss did not come back to within 10% of {pre:F3} within {RecoveryMicrobatchesMax} microbatches after stage {killStage} was rebuilt");
        Assert.Contains(swarm.Peers, p => p.Stage == killStage);
    }

    private static async Task WaitAsync(Func<bool> done, TimeSpan limit, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > limit) throw new TimeoutException($"timed out after {limit.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(100);
        }
    }
}
