using Decentralized.Node.Outer;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Tests;

/// <summary>One outer step of each method against numbers worked out by hand from ALGORITHMS.md.</summary>
public sealed class OuterOptimizerTests
{
    private static Tensor V(params float[] values) => tensor(values);

    private static void Near(float[] expected, Tensor actual)
    {
        var got = actual.data<float>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) < 1e-5, $"[{i}] expected {expected[i]}, got {got[i]}");
    }

    [Fact]
    public void DiLoCoNesterovStepMatchesHandComputation()
    {
        using var scope = NewDisposeScope();
        using var outer = new DiLoCoOuterOptimizer(V(1, 2), new DiLoCoOptions(LearningRate: 0.7, Momentum: 0.9));
        // Δ_1 = φ − θ_1 = [0.5, −0.5], Δ_2 = [−0.5, 1.0]; mean Δ = [0, 0.25]
        var d1 = outer.PseudoGradient(V(0.5f, 2.5f));
        var d2 = outer.PseudoGradient(V(1.5f, 1.0f));
        Near(new[] { 0.5f, -0.5f }, d1);
        var mean = (d1 + d2) / 2;
        outer.Step(mean);   // b = [0, .25]; φ = [1, 2 − .7(.25 + .9·.25)] = [1, 1.6675]
        Near(new[] { 1f, 1.6675f }, outer.Slow);
        outer.Step(mean);   // b = [0, .475]; φ = [1, 1.6675 − .7(.25 + .9·.475)] = [1, 1.19325]
        Near(new[] { 1f, 1.19325f }, outer.Slow);
        Near(new[] { 0f, 0.475f }, outer.Momentum);
        Assert.Equal(2, outer.Round);
    }

    [Fact]
    public void DiLoCoConsolidationLandsOnTheReplicasAverageWhateverTheMomentum()
    {
        using var scope = NewDisposeScope();
        using var outer = new DiLoCoOuterOptimizer(V(1, 2), new DiLoCoOptions(LearningRate: 0.7, Momentum: 0.9));
        outer.Step(V(0f, 0.25f));   // builds momentum: b = [0, .25], φ = [1, 1.6675]
        // Replicas at θ_1 = [0.5, 1.5], θ_2 = [1.5, 1.0]: mean Δ = φ − θ̄ = [0, 0.4175]; the average is [1, 1.25].
        var mean = (outer.PseudoGradient(V(0.5f, 1.5f)) + outer.PseudoGradient(V(1.5f, 1.0f))) / 2;
        outer.Consolidate(mean);
        Near(new[] { 1f, 1.25f }, outer.Slow);
        Assert.Equal(2, outer.Round);
    }

    [Fact]
    public void NoLoCoConsolidationLandsOnTheGroupsAverageFastWeights()
    {
        using var scope = NewDisposeScope();
        using var outer = new NoLoCoOuterOptimizer(V(1, 2), new NoLoCoOptions(Alpha: 0.5, Beta: 1.0));
        outer.StepFromFast(new[] { V(2f, 2f), V(2f, 4f) });   // builds momentum: m = [1, 1], φ = [2, 3]
        outer.Consolidate(new[] { V(3f, 3f), V(1f, 5f) });
        Near(new[] { 2f, 4f }, outer.Slow);
        Assert.Equal(2, outer.Round);
    }

    [Fact]
    public void DiLoCoHeavyBallStepMatchesHandComputation()
    {
        using var scope = NewDisposeScope();
        using var outer = new DiLoCoOuterOptimizer(V(1, 2), new DiLoCoOptions(0.5, 0.5, OuterMomentum.HeavyBall));
        outer.Step(V(0.2f, -0.4f));   // b = [.2, −.4]; φ = [.9, 2.2]
        outer.Step(V(0.2f, -0.4f));   // b = [.3, −.6]; φ = [.75, 2.5]
        Near(new[] { 0.75f, 2.5f }, outer.Slow);
    }

    [Fact]
    public void NoLoCoStepMatchesHandComputationAndFastFormAgrees()
    {
        using var scope = NewDisposeScope();
        var options = new NoLoCoOptions(Alpha: 0.5, Beta: 0.7);
        using var general = new NoLoCoOuterOptimizer(V(1, 2), options);
        using var fastForm = new NoLoCoOuterOptimizer(V(1, 2), options);
        Tensor slowJ = V(2, 0), fastI = V(1.5f, 2), fastJ = V(2, 1);
        // Δ_i = [.5, 0], Δ_j = [0, 1]; m = .35·[.5, 1] + .7·([1.5, 1] − [1, 2]) = [.525, −.35]
        general.Step(new[] { general.Delta(fastI), fastJ - slowJ }, new[] { general.Slow.clone(), slowJ });
        Near(new[] { 0.525f, -0.35f }, general.Momentum);
        Near(new[] { 1.525f, 1.65f }, general.Slow);
        fastForm.StepFromFast(new[] { fastI, fastJ });
        Near(new[] { 1.525f, 1.65f }, fastForm.Slow);
        // second round: momentum decays by α before the new terms
        general.Step(new[] { V(0, 0), V(0, 0) }, new[] { general.Slow.clone(), general.Slow.clone() });
        Near(new[] { 0.2625f, -0.175f }, general.Momentum);
    }

    [Fact]
    public void NoLoCoNesterovFormLooksAheadByAlphaTimesTheMomentum()
    {
        using var scope = NewDisposeScope();
        using var outer = new NoLoCoOuterOptimizer(V(1, 2), new NoLoCoOptions(Alpha: 0.5, Beta: 0.7, Form: OuterMomentum.Nesterov));
        // the same step g = [.525, −.35] as the heavy-ball case; m = g, φ ← φ + g + .5·m = [1 + .7875, 2 − .525]
        outer.StepFromFast(new[] { V(1.5f, 2), V(2, 1) });
        Near(new[] { 0.525f, -0.35f }, outer.Momentum);
        Near(new[] { 1.7875f, 1.475f }, outer.Slow);
        // a round with nothing new: m ← .5·m = [.2625, −.175]; φ moves by .5·m only
        outer.StepFromFast(new[] { outer.Slow.clone(), outer.Slow.clone() });
        Near(new[] { 0.2625f, -0.175f }, outer.Momentum);
        Near(new[] { 1.91875f, 1.3875f }, outer.Slow);
    }

    [Fact]
    public void NoLoCoGammaSeparateFromBeta()
    {
        using var scope = NewDisposeScope();
        using var outer = new NoLoCoOuterOptimizer(V(1, 2), new NoLoCoOptions(0.5, 0.7, Gamma: 0.3));
        outer.Step(new[] { V(0.5f, 0), V(0, 1) }, new[] { V(1, 2), V(2, 0) });
        Near(new[] { 0.325f, 0.05f }, outer.Momentum);   // .35·[.5, 1] + .3·[.5, −1]
        Assert.Throws<InvalidOperationException>(() => outer.StepFromFast(new[] { V(1, 1) }));
    }

    [Theory]
    [InlineData(2)] [InlineData(7)] [InlineData(64)] [InlineData(255)]
    public void PairingCoversEveryMemberOnceAndIsDeterministic(int members)
    {
        for (long round = 0; round < 20; round++)
        {
            var groups = NoLoCoPairing.Groups(members, swarmSeed: 42, round);
            var all = groups.SelectMany(g => g).OrderBy(x => x).ToArray();
            Assert.Equal(Enumerable.Range(0, members), all);
            Assert.All(groups, g => Assert.InRange(g.Length, 2, 3));
            Assert.Equal(members % 2, groups.Count(g => g.Length == 3));
            var again = NoLoCoPairing.Groups(members, 42, round);
            Assert.Equal(groups.Select(g => string.Join(",", g)), again.Select(g => string.Join(",", g)));
        }
    }

    [Fact]
    public void PairingChangesFromRoundToRound()
    {
        var a = NoLoCoPairing.Groups(16, 1, 0).Select(g => string.Join(",", g.OrderBy(x => x))).ToHashSet();
        var b = NoLoCoPairing.Groups(16, 1, 1).Select(g => string.Join(",", g.OrderBy(x => x))).ToHashSet();
        Assert.NotEqual(a, b);
    }
}
