using System.Collections.Concurrent;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Node.Tests.Swarm;

/// <summary>Two real hosts over loopback TCP whose gates disagree: both refuse, each naming both sides' values.</summary>
public sealed class ConnectionGateTests
{
    private sealed class Lines : ILogger
    {
        public ConcurrentQueue<string> All { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            All.Enqueue(formatter(state, exception));
    }

    private static async Task<(Libp2pHost Host, ConnectionHandshake Gate, Lines Log)> StartAsync(SwarmIdentity identity)
    {
        var key = PrivateKey.Generate();
        var log = new Lines();
        var gate = new ConnectionHandshake(identity, [], key.PeerId, 64 * 1024, log);
        var host = new Libp2pHost(new Libp2pHostOptions
        {
            Identity = key,
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            ConnectionGate = gate.RunAsync,
            ConnectionGateProtocol = SwarmProtocols.Gate,
        });
        await host.StartAsync();
        return (host, gate, log);
    }

    private static async Task<(string Ours, string Theirs)> RefusalsAsync(SwarmIdentity a, SwarmIdentity b)
    {
        var (hostA, gateA, logA) = await StartAsync(a);
        var (hostB, gateB, logB) = await StartAsync(b);
        await using (hostA)
        await using (hostB)
        {
            try { await hostA.DialAsync(hostB.ListenAddresses[0].WithPeerId(hostB.LocalPeer), CancellationToken.None); }
            catch (Exception) { }   // the dial may fail or the connection close right after: either way, refused
            for (int i = 0; i < 100 && (gateA.Refused == 0 || gateB.Refused == 0); i++) await Task.Delay(50);
            Assert.Equal(1, gateA.Refused);
            Assert.Equal(1, gateB.Refused);
            await Task.Delay(200);
            Assert.DoesNotContain(hostB.LocalPeer, hostA.ConnectedPeers);
            return (logA.All.Single(l => l.StartsWith("refused")), logB.All.Single(l => l.StartsWith("refused")));
        }
    }

    [Fact]
    public async Task APeerWithAnotherProtocolVersionIsRefusedOnBothSidesNamingBothVersions()
    {
        var ours = new SwarmIdentity("0.2.0", "run-1", "cfg");
        var (a, b) = await RefusalsAsync(ours, new SwarmIdentity("0.1.0", "run-1", "cfg") { ProtocolVersion = ours.ProtocolVersion - 1 });
        foreach (var line in new[] { a, b })
        {
            Assert.Contains("protocol version mismatch", line);
            Assert.Contains($"{ours.ProtocolVersion} (software 0.2.0)", line);
            Assert.Contains($"{ours.ProtocolVersion - 1} (software 0.1.0)", line);
        }
    }

    [Fact]
    public async Task APeerTrainingAnotherConfigIsRefusedOnBothSidesNamingBothHashes()
    {
        var (a, b) = await RefusalsAsync(new SwarmIdentity("0.2.0", "run-1", "aaaa"), new SwarmIdentity("0.2.0", "run-1", "bbbb"));
        Assert.Contains("ours aaaa, theirs bbbb", a);
        Assert.Contains("ours bbbb, theirs aaaa", b);
    }

    [Fact]
    public async Task APeerStartedWithAnotherInitIsRefusedNamingTheInit()
    {
        var (a, b) = await RefusalsAsync(NodeRunOptionsTests.Identity("--init", "gpt2"), NodeRunOptionsTests.Identity("--init", "torch"));
        Assert.Contains("--init: ours 'gpt2', theirs 'torch'", a);
        Assert.Contains("--init: ours 'torch', theirs 'gpt2'", b);
    }

    [Fact]
    public async Task APeerWithOtherSettingsIsRefusedOnBothSidesNamingEachSettingAndBothValues()
    {
        var ours = SwarmIdentity.FromSettings("0.2.0", "run-1", new Dictionary<string, string> { ["compress"] = "fp32", ["seed"] = "1", ["inner-steps"] = "20" });
        var theirs = SwarmIdentity.FromSettings("0.2.0", "run-1", new Dictionary<string, string> { ["compress"] = "q4+ef", ["seed"] = "1", ["inner-steps"] = "20" });
        Assert.NotEqual(ours.ConfigHash, theirs.ConfigHash);
        var (a, b) = await RefusalsAsync(ours, theirs);
        Assert.Contains("--compress: ours 'fp32', theirs 'q4+ef'", a);
        Assert.Contains("--compress: ours 'q4+ef', theirs 'fp32'", b);
        Assert.DoesNotContain("seed", a);
    }
}
