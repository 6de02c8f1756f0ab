using Decentralized.Cli;

namespace Decentralized.Node.Tests;

/// <summary><c>swarm local --link</c>: one shape for every peer, <c>peerI=</c> for the exceptions, nonsense refused by name.</summary>
public sealed class SwarmLinksTests
{
    [Fact]
    public void APerPeerLinkOverridesTheOneForAllWhateverTheOrder()
    {
        var links = SwarmLinks.Parse(["peer2=1mbit", "10mbit,latency=5ms"], 4);
        Assert.Equal(["10000000bit,latency=5ms", "10000000bit,latency=5ms", "1000000bit", "10000000bit,latency=5ms"], links.Select(l => l!.ToString()));
        Assert.All(SwarmLinks.Parse([], 3), Assert.Null);
        Assert.Equal([null, "2000000bit"], SwarmLinks.Parse(["peer1=2mbit"], 2).Select(l => l?.ToString()));
    }

    [Theory]
    [InlineData("peer4=1mbit", "peer4 is not one of peer0..peer3")]
    [InlineData("peerx=1mbit", "peerx is not one of peer0..peer3")]
    [InlineData("peer1=fast", "rate 'fast' needs a unit")]
    public void RefusesAPeerThatIsNotThereOrAShapeThatIsNot(string value, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => SwarmLinks.Parse([value], 4));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void RefusesTwoLinksForTheSamePeers()
    {
        Assert.Contains("a link for every peer is given already", Assert.Throws<ArgumentException>(() => SwarmLinks.Parse(["1mbit", "2mbit"], 2)).Message);
        Assert.Contains("peer1 has a link already", Assert.Throws<ArgumentException>(() => SwarmLinks.Parse(["peer1=1mbit", "peer1=2mbit"], 2)).Message);
    }
}
