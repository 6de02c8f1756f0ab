using Decentralized.Node.Pipeline;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Node.Tests.Pipeline;

/// <summary>A pipeline swarm in this process: one real libp2p TCP host (Noise, Yamux) per peer on loopback.</summary>
internal sealed class LoopbackPipeline : IAsyncDisposable
{
    private readonly List<(Libp2pHost Host, PipelinePeer Peer)> _members = [];
    private readonly List<string> _events = [];

    public IReadOnlyList<PipelinePeer> Peers => _members.Select(m => m.Peer).ToArray();

    public IReadOnlyList<string> Events { get { lock (_events) return _events.ToArray(); } }

    public event Action<PipelinePeer, StageRecovery>? StageTaken;

    public static async Task<LoopbackPipeline> StartAsync(PipelineOptions options, int[] stages)
    {
        var swarm = new LoopbackPipeline();
        for (int i = 0; i < stages.Length; i++) await swarm.AddAsync(options with { Stage = stages[i] }, i, stages.Length);
        return swarm;
    }

    public async Task<PipelinePeer> AddAsync(PipelineOptions options, int index, int shards)
    {
        var host = new Libp2pHost(new Libp2pHostOptions
        {
            Identity = PrivateKey.FromSeed(Enumerable.Repeat((byte)(index + 1), 32).ToArray()),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        await host.StartAsync();
        var data = TestCorpus.Data.ForReplica(options.Seed, index, shards, options.Inner.MicroBatchSize, options.Inner.SequenceLength);
        ILogger log = Environment.GetEnvironmentVariable("PIPELINE_TEST_LOG") is "1" ? new ConsoleLog(index) : NullLogger.Instance;
        var peer = new PipelinePeer(host, TimeProvider.System, options, data, log);
        peer.StageTaken += (p, r) =>
        {
            lock (_events) _events.Add($"peer {index}: stage {r.Stage} by {r.Method} (ω {r.PreviousWeight:G3}/{r.NextWeight:G3})");
            StageTaken?.Invoke(p, r);
        };
        if (_members.Count > 0) peer.AddBootstrap(_members[0].Host.ListenAddresses[0]);
        _members.Add((host, peer));
        peer.Start();
        return peer;
    }

    /// <summary>Kills a peer the hard way: its loops stop and its host closes every connection.</summary>
    public async Task KillAsync(PipelinePeer peer)
    {
        var member = _members.First(m => m.Peer == peer);
        _members.Remove(member);
        await member.Host.DisposeAsync();
        await member.Peer.DisposeAsync();
    }

    /// <summary>Driver losses of all live peers in arrival order.</summary>
    public IReadOnlyList<PipelineLossPoint> Losses() =>
        _members.SelectMany(m => m.Peer.Losses()).OrderBy(p => p.At).ToArray();

    public async ValueTask DisposeAsync()
    {
        foreach (var (host, peer) in _members)
        {
            await peer.DisposeAsync();
            await host.DisposeAsync();
        }
        _members.Clear();
    }

    private sealed class ConsoleLog(int index) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{index}] {formatter(state, exception)}");
        }
    }
}
