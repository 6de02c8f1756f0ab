using Decentralized.Node.Outer;
using Decentralized.Node.Rounds;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Rounds;

/// <summary>The round engine on a manual clock, with no network: blobs are handed from member to member by the test.</summary>
public sealed class RoundEngineTests
{
    private static void Near(float[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"[{i}] expected {expected[i]}, got {actual[i]}");
    }

    private static readonly float[] Phi = [1f, 2f, 3f];

    [Fact]
    public void DiLoCoMembersLandOnTheAverageAndStayBitIdentical()
    {
        using var h = new EngineHarness();
        foreach (var name in new[] { "a", "b", "c" }) h.Add(name, Phi, EngineHarness.DiLoCo());
        var fast = new Dictionary<string, float[]> { ["a"] = [0f, 2f, 3f], ["b"] = [1f, 1f, 3f], ["c"] = [2f, 3f, 6f] };
        var next = h.Round(fast);
        // lr 1, no momentum: φ − mean(φ − θ_i) = mean θ_i
        Near([1f, 2f, 4f], next["a"]);
        Assert.Equal(next["a"], next["b"]);
        Assert.Equal(next["a"], next["c"]);
        Assert.All(h.Members.Values, m => Assert.Equal(1, m.Round));
    }

    [Fact]
    public void ALatePartnerIsWaitedForExactlyUntilTheDeadlineThenTheRoundGoesOnWithoutIt()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        var b = h.Add("b", Phi, EngineHarness.DiLoCo());
        var outgoing = a.Begin(tensor(new[] { 0f, 2f, 3f }), h.LiveFor("a"));
        Assert.Equal(["b"], outgoing.Targets);
        var tick = a.OnTick();
        Assert.False(tick.Ready);
        Assert.Equal(TimeSpan.FromSeconds(10), tick.Wake);   // no measurements yet: the full round timeout
        Assert.Equal(["b"], tick.Awaited);
        h.Clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(a.OnTick().Ready);
        h.Clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(a.OnTick().Ready);
        var applied = a.Apply(tensor(new[] { 0f, 2f, 3f }));
        Assert.Contains("deadline", applied.Outcomes[0].Closed);
        Assert.Empty(applied.Outcomes[0].Used);
        Near([0f, 2f, 3f], EngineHarness.Values(applied.Fast));   // its own pseudo-gradient only
        // b's update for round 0 now comes too late.
        var late = b.Begin(tensor(new[] { 1f, 1f, 3f }), h.LiveFor("b"));
        Assert.Equal(UpdateVerdict.Ignored, a.OnUpdate("b", late.Round, late.Payload, late.Blob).Verdict);
    }

    [Fact]
    public void APartnerThatLeftIsNotWaitedFor()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        h.Add("b", Phi, EngineHarness.DiLoCo());
        a.Begin(tensor(Phi), h.LiveFor("a"));
        Assert.False(a.OnTick().Ready);
        Assert.True(a.OnTick(h.LiveFor("a", absent: "b")).Ready);
        Assert.Contains("left the swarm", a.Apply(tensor(Phi)).Outcomes[0].Closed);
    }

    [Fact]
    public void APartnerMissingThreeRoundsIsSuspendedUntilItSendsAgain()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        var b = h.Add("b", Phi, EngineHarness.DiLoCo());
        var live = new Dictionary<string, long> { ["b"] = 0 };
        for (int round = 0; round < PartnerDeadlines.MissesToSuspend; round++)
        {
            Assert.Equal(["b"], a.Begin(tensor(Phi), live).Targets);
            h.Clock.Advance(TimeSpan.FromSeconds(10));
            var tick = a.OnTick();
            Assert.True(tick.Ready);
            Assert.Equal(round == PartnerDeadlines.MissesToSuspend - 1 ? ["b"] : [], tick.Suspended);
            a.Apply(tensor(Phi)).Fast.Dispose();
        }
        Assert.True(a.IsSuspended("b"));
        var alone = a.Begin(tensor(Phi), live);
        Assert.Empty(alone.Targets);
        Assert.True(a.OnTick().Ready);
        a.Apply(tensor(Phi)).Fast.Dispose();
        // b comes back with an update for a's current round: back in the pairing.
        b.RestoreRound(a.Round);
        var back = b.Begin(tensor(Phi), new Dictionary<string, long> { ["a"] = a.Round });
        var answer = a.OnUpdate("b", back.Round, back.Payload, back.Blob);
        Assert.Equal(UpdateVerdict.Accepted, answer.Verdict);
        Assert.True(answer.Returned);
        Assert.Equal(["b"], a.Begin(tensor(Phi), live).Targets);
    }

    [Fact]
    public void WithOverlapTheStepLandsOneRoundLateAndKeepsTheProgressMadeMeanwhile()
    {
        using var h = new EngineHarness();
        var options = new RoundOptions { Overlap = true, RoundTimeout = TimeSpan.FromSeconds(10) };
        var a = h.Add("a", Phi, EngineHarness.DiLoCo(), options);
        var b = h.Add("b", Phi, EngineHarness.DiLoCo(), options);
        float[] a0 = [0f, 2f, 3f], b0 = [2f, 2f, 5f];
        var sentA = a.Begin(tensor(a0), h.LiveFor("a"));
        var sentB = b.Begin(tensor(b0), h.LiveFor("b"));
        // Nothing is due yet: both go on from where they are, without waiting.
        Assert.True(a.OnTick().Ready);
        Near(a0, EngineHarness.Values(a.Apply(tensor(a0)).Fast));
        Assert.True(b.OnTick().Ready);
        b.Apply(tensor(b0)).Fast.Dispose();
        h.Deliver("a", sentA);   // round 0's blobs arrive while round 1 trains
        h.Deliver("b", sentB);
        float[] a1 = [0.5f, 2f, 3f];   // a's round-1 progress: +0.5 on the first value
        a.Begin(tensor(a1), h.LiveFor("a"));
        Assert.True(a.OnTick().Ready);
        var applied = a.Apply(tensor(a1));
        Assert.Equal(0, applied.Outcomes[0].Round);
        // Round 0's step: φ = mean θ = [1, 2, 4]; plus the progress since round 1 began.
        Near([1.5f, 2f, 4f], EngineHarness.Values(applied.Fast));
        Near([1f, 2f, 4f], EngineHarness.Values(a.Method.Slow));
    }

    [Fact]
    public void TheLastRoundHandsOverTheAverageWhateverTheMomentum()
    {
        using var h = new EngineHarness();
        h.Add("a", Phi, EngineHarness.DiLoCo(0.7, 0.9));
        h.Add("b", Phi, EngineHarness.DiLoCo(0.7, 0.9));
        h.Round(new() { ["a"] = [0f, 2f, 3f], ["b"] = [1f, 1f, 3f] });   // builds momentum
        var end = h.Round(new() { ["a"] = [3f, 3f, 3f], ["b"] = [1f, 5f, 3f] }, last: true);
        Near([2f, 4f, 3f], end["a"]);
        Assert.Equal(end["a"], end["b"]);
        Assert.All(h.Members.Values, m => Assert.Equal(2, m.Round));
    }

    [Fact]
    public void WithoutConsolidationTheLastRoundTakesTheMomentumStep()
    {
        using var h = new EngineHarness();
        var options = new RoundOptions { ConsolidateLastRound = false, RoundTimeout = TimeSpan.FromSeconds(10) };
        h.Add("a", Phi, EngineHarness.DiLoCo(0.7, 0.9), options);
        h.Add("b", Phi, EngineHarness.DiLoCo(0.7, 0.9), options);
        h.Round(new() { ["a"] = [0f, 2f, 3f], ["b"] = [1f, 1f, 3f] });
        var end = h.Round(new() { ["a"] = [3f, 3f, 3f], ["b"] = [1f, 5f, 3f] }, last: true);
        Assert.True(Math.Abs(end["a"][0] - 2f) > 0.1, $"expected a momentum step away from the average, got {end["a"][0]}");
    }

    [Fact]
    public void GarbageWrongPayloadsAndFarRoundsAreRefusedOrIgnoredWithoutThrowing()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        Assert.Equal(UpdateVerdict.Refused, a.OnUpdate("b", 0, Payload.PseudoGradient, new byte[] { 1, 2, 3, 4, 5 }).Verdict);
        Assert.Equal(UpdateVerdict.Refused, a.OnUpdate("b", 0, Payload.FastWeights, new byte[] { 1 }).Verdict);
        Assert.Equal(UpdateVerdict.Ignored, a.OnUpdate("b", 3, Payload.PseudoGradient, new byte[] { 1 }).Verdict);
        Assert.Equal(UpdateVerdict.Ignored, a.OnUpdate("b", -1, Payload.PseudoGradient, new byte[] { 1 }).Verdict);
    }

    [Fact]
    public void ARefusedUpdateIsAnAnswerTheRoundClosesAtOnceWithoutIt()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        h.Add("b", Phi, EngineHarness.DiLoCo());
        h.Add("c", Phi, EngineHarness.DiLoCo());
        var sent = h.Members.ToDictionary(m => m.Key, m => m.Value.Begin(tensor(new[] { 0f, 2f, 3f }), h.LiveFor(m.Key)));
        Assert.Equal(UpdateVerdict.Accepted, a.OnUpdate("c", 0, sent["c"].Payload, sent["c"].Blob).Verdict);
        var tick = a.OnTick();
        Assert.False(tick.Ready);
        Assert.Equal(["b"], tick.Awaited);
        // b's update arrives in another codec's format: refused, and b has answered; no clock advance needed.
        Assert.Equal(UpdateVerdict.Refused, a.OnUpdate("b", 0, Payload.FastWeights, sent["b"].Blob).Verdict);
        Assert.True(a.OnTick().Ready);
        var applied = a.Apply(tensor(new[] { 0f, 2f, 3f }));
        Assert.Equal(["c"], applied.Outcomes[0].Used);
        Assert.Contains("refused b (payload FastWeights", applied.Outcomes[0].Closed);
        Assert.Equal(0, applied.Outcomes[0].WaitedSeconds);
    }

    [Fact]
    public void ARefusedUpdateNeverDisplacesAKeptOneAndAGoodOneAfterARefusalIsUsed()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        var b = h.Add("b", Phi, EngineHarness.DiLoCo());
        var live = h.LiveFor("a");
        a.Begin(tensor(new[] { 0f, 2f, 3f }), live);
        var good = b.Begin(tensor(new[] { 2f, 2f, 3f }), h.LiveFor("b"));
        // Good first, then garbage and a header-level refusal: the good one stays and is used.
        Assert.Equal(UpdateVerdict.Accepted, a.OnUpdate("b", 0, good.Payload, good.Blob).Verdict);
        Assert.Equal(UpdateVerdict.Refused, a.OnUpdate("b", 0, good.Payload, new byte[] { 1, 2, 3 }).Verdict);
        Assert.Equal(UpdateVerdict.Refused, a.OnRefused("b", 0, "declared size too large").Verdict);
        Assert.True(a.OnTick().Ready);
        var first = a.Apply(tensor(new[] { 0f, 2f, 3f }));
        Assert.Equal(["b"], first.Outcomes[0].Used);
        Near([1f, 2f, 3f], EngineHarness.Values(first.Fast));   // the mean of a's and b's kept update
        Assert.DoesNotContain("refused", first.Outcomes[0].Closed);
        // Next round: garbage first, then b's good update for the same round: the good one counts.
        a.Begin(tensor(new[] { 0f, 2f, 3f }), live);
        Assert.Equal(UpdateVerdict.Refused, a.OnUpdate("b", 1, good.Payload, new byte[] { 9 }).Verdict);
        Assert.Equal(UpdateVerdict.Accepted, a.OnUpdate("b", 1, good.Payload, good.Blob).Verdict);   // b's pseudo-gradient again
        Assert.True(a.OnTick().Ready);
        var second = a.Apply(tensor(new[] { 0f, 2f, 3f }));
        Assert.Equal(["b"], second.Outcomes[0].Used);
        Assert.Equal("every partner answered", second.Outcomes[0].Closed);
    }

    [Fact]
    public void APartnerRefusedThreeRoundsInARowIsSuspended()
    {
        using var h = new EngineHarness();
        var a = h.Add("a", Phi, EngineHarness.DiLoCo());
        var live = new Dictionary<string, long> { ["b"] = 0 };
        for (int round = 0; round < PartnerDeadlines.MissesToSuspend; round++)
        {
            Assert.Equal(["b"], a.Begin(tensor(Phi), live).Targets);
            a.OnUpdate("b", a.Round, Payload.PseudoGradient, new byte[] { 1, 2, 3, 4, 5 });
            var tick = a.OnTick();
            Assert.True(tick.Ready);
            Assert.Equal(round == PartnerDeadlines.MissesToSuspend - 1 ? ["b"] : [], tick.Suspended);
            a.Apply(tensor(Phi)).Fast.Dispose();
        }
        Assert.Empty(a.Begin(tensor(Phi), live).Targets);
    }

    [Fact]
    public void ARunawayUpdateIsRejectedAndTheOthersAreUsed()
    {
        using var h = new EngineHarness();
        foreach (var name in new[] { "a", "b", "c" }) h.Add(name, Phi, EngineHarness.DiLoCo());
        var fast = new Dictionary<string, float[]> { ["a"] = [0f, 2f, 3f], ["b"] = [2f, 2f, 3f], ["c"] = [1000f, 2f, 3f] };
        var sent = h.Members.ToDictionary(m => m.Key, m => m.Value.Begin(tensor(fast[m.Key]), h.LiveFor(m.Key)));
        foreach (var (name, outgoing) in sent) h.Deliver(name, outgoing);
        var a = h.Members["a"];
        Assert.True(a.OnTick().Ready);
        var applied = a.Apply(tensor(fast["a"]));
        Assert.Equal(["c"], applied.Outcomes[0].Rejected.Select(r => r.Peer));
        Near([1f, 2f, 3f], EngineHarness.Values(applied.Fast));   // mean of a and b
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(7L)]
    public void NoLoCoPairsAverageWithinTheirGroupOnly(long seed)
    {
        using var h = new EngineHarness();
        var options = new RoundOptions { Seed = seed, RoundTimeout = TimeSpan.FromSeconds(10) };
        var names = new[] { "a", "b", "c", "d" };
        foreach (var name in names) h.Add(name, Phi, EngineHarness.NoLoCo(), options);
        var fast = names.Select((n, i) => (n, v: new[] { (float)i, 2f * i, 1f })).ToDictionary(x => x.n, x => x.v);
        var next = h.Round(fast);
        foreach (var group in NoLoCoPairing.Groups(names.Length, seed, 0))
        {
            // α 0, β 1: φ ← mean θ of the group
            var mean = Enumerable.Range(0, 3).Select(k => (float)group.Average(i => fast[names[i]][k])).ToArray();
            foreach (int i in group) Near(mean, next[names[i]], 1e-5);
        }
        Assert.Equal(Payload.FastWeights, h.Members["a"].Payload);
    }
}
