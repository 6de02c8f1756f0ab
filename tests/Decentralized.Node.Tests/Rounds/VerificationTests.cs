using Decentralized.Node.Rounds;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests.Rounds;

/// <summary>
/// Verification in the round engine on a manual clock: a three-value "model" whose loss is the squared distance to a
/// target, honest members step towards it, and the test hands each blob over (or a forged one) by hand.
/// </summary>
public sealed class VerificationTests
{
    private static readonly float[] Target = [1f, 1f, 1f];
    private static readonly float[] Start = [0f, 0f, 0f];
    private static readonly RoundOptions Verified = new() { RoundTimeout = TimeSpan.FromSeconds(10), Verify = new VerifyOptions() };

    /// <summary>L(w) = 1 + ‖w − target‖²: an update pointing at the target lowers it.</summary>
    private static double Loss(Tensor w)
    {
        using var t = tensor(Target).to(w.device);
        return 1 + (w - t).pow(2).sum().item<float>();
    }

    /// <summary>An honest member's fast weights: a tenth of the way from φ to the target, each member along its own axis first.</summary>
    private static float[] Honest(RoundEngine m, int member)
    {
        var phi = EngineHarness.Values(m.Method.Slow);
        return phi.Select((p, i) => p + (Target[i] - p) * (i == member % 3 ? 0.15f : 0.05f)).ToArray();
    }

    /// <summary>The sign-flipped update at equal norm: θ' = 2φ − θ, so Δ' = −Δ.</summary>
    private static float[] Flipped(RoundEngine m, float[] honest) =>
        EngineHarness.Values(m.Method.Slow).Select((p, i) => 2 * p - honest[i]).ToArray();

    /// <summary>Every member begins, the blobs are delivered (through <paramref name="forge"/> for the sender it changes), and every member applies.</summary>
    private static Dictionary<string, ApplyResult> Round(EngineHarness h, Func<string, RoundEngine, float[]> fast, Func<string, string, Outgoing, byte[]>? forge = null)
    {
        var sent = h.Members.ToDictionary(m => m.Key, m => m.Value.Begin(tensor(fast(m.Key, m.Value)), h.LiveFor(m.Key)));
        foreach (var (from, outgoing) in sent)
            foreach (var to in outgoing.Targets)
                Assert.Equal(UpdateVerdict.Accepted, h.Members[to].OnUpdate(from, outgoing.Round, outgoing.Payload, forge?.Invoke(from, to, outgoing) ?? outgoing.Blob).Verdict);
        return h.Members.ToDictionary(m => m.Key, m =>
        {
            Assert.True(m.Value.OnTick().Ready);
            var applied = m.Value.Apply(tensor(fast(m.Key, m.Value)));
            applied.Fast.Dispose();
            return applied;
        });
    }

    private static double DistanceToTarget(RoundEngine m) =>
        Math.Sqrt(EngineHarness.Values(m.Method.Slow).Select((p, i) => (p - Target[i]) * (p - Target[i])).Sum());

    [Fact]
    public void ASignFlippingPartnerIsDroppedExcludedAfterThreeRoundsAndReadmittedAfterTwoHonestRounds()
    {
        using var defended = new EngineHarness();
        using var open = new EngineHarness();
        foreach (var (h, options) in new[] { (defended, Verified), (open, Verified with { Verify = null }) })
            foreach (var name in new[] { "a", "b", "c", "d" })
                h.Add(name, Start, EngineHarness.DiLoCo(lr: 1.0), options).Loss = Loss;
        float[] Attack(string name, RoundEngine m) => name == "d" ? Flipped(m, Honest(m, 3)) : Honest(m, name[0] - 'a');
        for (int round = 0; round < 3; round++)
        {
            var outcome = Round(defended, Attack)["a"].Outcomes[0];
            Round(open, Attack);
            Assert.Equal(["b", "c"], outcome.Used);
            Assert.Contains(outcome.Rejected, r => r.Peer == "d" && r.Reason.Contains("makes our held-out batch worse"));
            Assert.True(outcome.Scores!.Single(s => s.Peer == "d").Score < 0);
            Assert.True(outcome.Scores!.Single(s => s.Peer == "b").Score > 0);
            Assert.Equal(round == 2 ? ["d"] : [], outcome.Excluded);
        }
        var a = defended.Members["a"];
        Assert.Equal(["d"], a.Excluded);
        Assert.True(a.Standings.Single(s => s.Peer == "d").Excluded);
        Assert.True(DistanceToTarget(a) < DistanceToTarget(open.Members["a"]) - 0.05,
            $"defended {DistanceToTarget(a):F3}, undefended {DistanceToTarget(open.Members["a"]):F3}");
        // d turns honest: one positive score is not enough (a drifted liar scores positive now and then by chance), the
        // second in a row readmits it, and its update is used again.
        var first = Round(defended, (name, m) => Honest(m, name[0] - 'a'))["a"].Outcomes[0];
        Assert.True(first.Scores!.Single(s => s.Peer == "d").Score > 0);
        Assert.DoesNotContain("d", first.Used);
        Assert.Empty(first.Readmitted);
        var back = Round(defended, (name, m) => Honest(m, name[0] - 'a'))["a"].Outcomes[0];
        Assert.Equal(["d"], back.Readmitted);
        Assert.Contains("d", back.Used);
        Assert.Empty(a.Excluded);
    }

    [Fact]
    public void AnUpdateThatNeitherHelpsNorHurtsIsRefusedAsNotHelpingUnlessTheMinimumShareIsOff()
    {
        // d sends a direction orthogonal to the way to the target, at an honest update's norm: the held-out loss barely
        // moves (its score is inside the tolerance), so only the "must help" check can tell it from an honest update.
        foreach (var minShare in new[] { 0.1, 0.0 })
        {
            using var h = new EngineHarness();
            var options = Verified with { Verify = new VerifyOptions { MinShare = minShare } };
            foreach (var name in new[] { "a", "b", "c", "d" })
                h.Add(name, Start, EngineHarness.DiLoCo(lr: 1.0), options).Loss = Loss;
            float[] Sideways(string name, RoundEngine m)
            {
                if (name != "d") return Honest(m, name[0] - 'a');
                var phi = EngineHarness.Values(m.Method.Slow);
                double norm = Math.Sqrt(Honest(m, 3).Select((v, i) => (v - phi[i]) * (v - phi[i])).Sum());
                float side = (float)(norm / Math.Sqrt(2));
                return [phi[0] + side, phi[1] - side, phi[2]];   // (1, −1, 0) ⟂ (1, 1, 1), the way to the target
            }
            var outcome = Round(h, Sideways)["a"].Outcomes[0];
            double score = outcome.Scores!.Single(s => s.Peer == "d").Score;
            Assert.True(score > -new VerifyOptions().Tolerance && score < 0.01 * outcome.Scores!.Single(s => s.Peer == "b").Score, $"score {score}");
            if (minShare > 0)
            {
                Assert.Equal(["b", "c"], outcome.Used);
                Assert.Contains(outcome.Rejected, r => r.Peer == "d" && r.Reason.Contains("does not help our held-out batch"));
            }
            else Assert.Contains("d", outcome.Used);
        }
    }

    [Fact]
    public void AReplayedOldUpdateAndAnEchoOfOurOwnAreRefused()
    {
        using var h = new EngineHarness();
        h.Add("a", Start, EngineHarness.DiLoCo(), Verified);
        h.Add("b", Start, EngineHarness.DiLoCo(), Verified);
        byte[]? first = null;
        Round(h, (name, m) => Honest(m, name[0] - 'a'), (from, _, o) => from == "b" ? first ??= o.Blob : o.Blob);
        // Round 1: b sends its round-0 update again (same bytes, its old φ fingerprint included).
        var replay = Round(h, (name, m) => Honest(m, name[0] - 'a'), (from, _, o) => from == "b" ? first! : o.Blob)["a"].Outcomes[0];
        Assert.Empty(replay.Used);
        Assert.Contains(replay.Rejected, r => r.Peer == "b" && r.Reason.Contains("replay of an update of round 0"));
        // Round 2: b sends a's own update back to it.
        var sent = new Dictionary<string, byte[]>();
        var echo = Round(h, (name, m) => Honest(m, name[0] - 'a'), (from, to, o) =>
        {
            sent[from] = o.Blob;
            return from == "b" ? sent.GetValueOrDefault("a") ?? o.Blob : o.Blob;
        })["a"].Outcomes[0];
        Assert.Empty(echo.Used);
        Assert.Contains(echo.Rejected, r => r.Peer == "b" && r.Reason.Contains("echo of our own update"));
    }

    [Fact]
    public void NoLoCoRefusesANewBodyBehindAnOldFingerprint()
    {
        using var h = new EngineHarness();
        h.Add("a", Start, EngineHarness.NoLoCo(), Verified);
        h.Add("b", Start, EngineHarness.NoLoCo(), Verified);
        byte[]? first = null;
        Round(h, (name, m) => Honest(m, name[0] - 'a'), (from, _, o) => from == "b" ? first ??= o.Blob : o.Blob);
        // Round 1: a fresh body, but the header claims the φ b already claimed in round 0 (a stale base, or a replay re-encoded).
        var stale = Round(h, (name, m) => Honest(m, name[0] - 'a'), (from, _, o) =>
            from == "b" ? first!.AsSpan(0, RoundEngine.FingerprintBytes).ToArray().Concat(o.Blob.Skip(RoundEngine.FingerprintBytes)).ToArray() : o.Blob)["a"].Outcomes[0];
        Assert.Empty(stale.Used);
        Assert.Contains(stale.Rejected, r => r.Peer == "b" && r.Reason.Contains("same outer weights as its update of round 0"));
        // Its honest update of the next round is taken again.
        Assert.Equal(["b"], Round(h, (name, m) => Honest(m, name[0] - 'a'))["a"].Outcomes[0].Used);
    }

    [Fact]
    public void AnOversizedUpdateUnderTheNormBoundIsClippedToTwiceTheMedianAndAFreeRiderIsDropped()
    {
        using var h = new EngineHarness();
        foreach (var name in new[] { "a", "b", "c", "d" }) h.Add(name, Start, EngineHarness.DiLoCo(), Verified);
        // Honest Δ = −0.1 along one axis each (norm 0.1); d sends 6× a's (norm 0.6, under the 10× bound).
        float[] Axis(int i, float size) => [i == 0 ? size : 0, i == 1 ? size : 0, i == 2 ? size : 0];
        var outcome = Round(h, (name, m) => name == "d" ? Axis(0, 0.6f) : Axis(name[0] - 'a', 0.1f))["a"].Outcomes[0];
        Assert.Equal(["b", "c", "d"], outcome.Used);
        // φ = 0 − mean(Δ): Δ_d clipped to 2 × the median norm 0.1 → [−0.2, 0, 0]; the others [−0.1, 0, 0], [0, −0.1, 0], [0, 0, −0.1].
        var phi = EngineHarness.Values(h.Members["a"].Method.Slow);
        Assert.Equal([0.3f / 4, 0.1f / 4, 0.1f / 4], phi.Select(p => MathF.Round(p, 5)).ToArray());
        // d then sends nothing: θ = φ, a zero update.
        var free = Round(h, (name, m) => name == "d" ? EngineHarness.Values(m.Method.Slow) : Honest(m, name[0] - 'a'))["a"].Outcomes[0];
        Assert.DoesNotContain("d", free.Used);
        Assert.Contains(free.Rejected, r => r.Peer == "d" && r.Reason.Contains("carries no work"));
    }
}
