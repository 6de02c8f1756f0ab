using Decentralized.Cli;
using Decentralized.Node.Swarm;

namespace Decentralized.Node.Tests;

/// <summary><c>swarm local --misbehave peerI=MODE</c>: one liar named by peer, never a swarm of them, never an unknown mode.</summary>
public sealed class PerPeerValuesTests
{
    private static string?[] Liars(params string[] values) =>
        PerPeerValues.Parse("misbehave", "a mode", values, 4, mode => new Misbehaviour(mode).Mode, forAllAllowed: false);

    [Fact]
    public void NamesTheLiarsAndLeavesTheOthersHonest()
    {
        Assert.Equal([null, null, null, "flip"], Liars("peer3=flip"));
        Assert.Equal(["random", null, "echo", null], Liars("peer0=random", "peer2=echo"));
        Assert.All(Liars(), Assert.Null);
    }

    [Theory]
    [InlineData("flip", "name the peer, as peerI=flip")]
    [InlineData("peer4=flip", "peer4 is not one of peer0..peer3")]
    [InlineData("peer1=lies", "unknown --misbehave mode 'lies'")]
    public void RefusesAModeForEveryPeerAPeerThatIsNotThereAndAnUnknownMode(string value, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => Liars(value));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void RefusesTwoModesForOnePeer() =>
        Assert.Contains("peer1 has a mode already", Assert.Throws<ArgumentException>(() => Liars("peer1=flip", "peer1=echo")).Message);
}
