using Decentralized.Node.Training;
using Decentralized.Simulations.Scenarios;

namespace Decentralized.Simulations.Tests;

/// <summary>Issue 24 on the daemon's own SwarmPeers in the simulator: a sign-flipping peer of four, verification on and off, under each outer method.</summary>
[Collection("torch")]
public sealed class AttackTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(Algorithm.DiLoCo)]
    [InlineData(Algorithm.NoLoCo)]
    [InlineData(Algorithm.SparseLoCo)]
    public void ASignFlipperIsExcludedAndTheHonestPeersEndNearACleanSwarmWhileWithoutVerificationTheyEndWorse(Algorithm algorithm)
    {
        const long seed = 7;
        AttacksScenario.Row Run(string attack, bool defence)
        {
            var row = AttacksScenario.RunCase(new AttacksScenario.Case(algorithm, 4, attack == "none" ? 0 : 1, attack, defence), SimCorpus.Data, seed, innerSteps: 6, rounds: 6, codec: "fp32");
            output.WriteLine($"{algorithm} {attack} defence {defence}: honest val loss {row.HonestLoss:F4}, excluding {row.HonestExcluding}, refused {row.Refused}, scored {row.Scored}, {row.WallSeconds:F1} s, scoring {row.ScoringSeconds:F1} s");
            return row;
        }
        var cleanOff = Run("none", false);
        var cleanOn = Run("none", true);
        var attackedOff = Run("flip", false);
        var attackedOn = Run("flip", true);
        var rows = new[] { cleanOff, cleanOn, attackedOff, attackedOn };
        double Gap(AttacksScenario.Row r) => AttacksScenario.GapPercent(r, rows);
        string Seen() => $"seed {seed}: clean off {cleanOff.HonestLoss:F4}, clean on {cleanOn.HonestLoss:F4} ({Gap(cleanOn):+0.00}%), flip off {attackedOff.HonestLoss:F4} ({Gap(attackedOff):+0.00}%), flip on {attackedOn.HonestLoss:F4} ({Gap(attackedOn):+0.00}%)";
        Assert.True(Math.Abs(Gap(cleanOn)) < 0.5, Seen());
        Assert.True(cleanOn.Scored > 0, Seen());
        // DiLoCo's and SparseLoCo's members all judge the attacker every round and exclude it after three; NoLoCo's pairs change every
        // round, so a partner meets it too rarely to exclude it, but refuses each of its updates.
        if (algorithm != Algorithm.NoLoCo) Assert.True(attackedOn.HonestExcluding == 3, $"{attackedOn.HonestExcluding} of 3 honest peers excluded the attacker; {Seen()}");
        else Assert.True(attackedOn.Refused > 0, $"no honest peer refused the attacker; {Seen()}");
        Assert.True(Gap(attackedOn) < 1.0, Seen());
        Assert.True(Gap(attackedOff) > Gap(attackedOn) + 1.0, Seen());
    }
}
