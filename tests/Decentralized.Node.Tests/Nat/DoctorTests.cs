using Decentralized.Cli;
using Decentralized.Node.Data;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Node.Tests.Nat;

/// <summary><c>decentralized doctor</c> on loopback: a healthy setup passes; each broken one fails with its fix.</summary>
[Collection("console")]
public sealed class DoctorTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("doctor-").FullName;
    private Libp2pHost _bootstrap = null!;

    private NodeSettings Settings(params string[] bootstrap) => new()
    {
        Listen = ["/ip4/127.0.0.1/tcp/0"],
        KeyFile = Path.Combine(_dir, "key"),
        DataDir = Path.Combine(_dir, "data"),
        Bootstrap = bootstrap,
        Swarm = new SwarmOptions { SwarmKey = Convert.FromHexString("00112233445566778899aabbccddeeff") },
    };

    public async Task InitializeAsync()
    {
        // A swarm member built the way the daemon builds it: same gate, same host options.
        var settings = Settings() with { KeyFile = Path.Combine(_dir, "bootstrap-key") };
        var key = KeyFile.LoadOrCreate(settings.KeyFile);
        var identity = NodeDaemon.IdentityOf(settings, Tokenizers.Create(settings.Data.Tokenizer).VocabSize);
        var gate = new ConnectionHandshake(identity, settings.Swarm.SwarmKey, key.PeerId, settings.Swarm.ControlMessageBytesMax, NullLogger.Instance);
        _bootstrap = new Libp2pHost(NodeDaemon.HostOptions(settings, key, gate, identity, [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")], [], NullLoggerFactory.Instance));
        await _bootstrap.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _bootstrap.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string BootstrapAddress => _bootstrap.BoundAddresses[0].ToString();

    [Fact]
    public async Task HealthyPeerPassesEveryCheckAndIsPublic()
    {
        KeyFile.LoadOrCreate(Path.Combine(_dir, "key"));
        var log = new ListLog();
        var report = await DoctorCommand.RunAsync(Settings(BootstrapAddress), CancellationToken.None, log);

        Assert.True(report.Ok, string.Join("\n", report.Checks) + "\n" + log);
        Assert.True(report.Ok, string.Join("\n", report.Checks));
        Assert.Equal("public", report.Reachability);
        Assert.All(report.Checks, c => Assert.Equal("ok", c.Status));
        Assert.Contains(report.Checks, c => c.Check.StartsWith("bootstrap") && c.Detail.Contains("round trip"));
    }

    [Fact]
    public async Task WrongSwarmKeyNamesTheFlag()
    {
        var settings = Settings(BootstrapAddress);
        settings = settings with { Swarm = settings.Swarm with { SwarmKey = Convert.FromHexString("ffeeddccbbaa99887766554433221100") } };
        var report = await DoctorCommand.RunAsync(settings, CancellationToken.None);

        var failed = Assert.Single(report.Checks, c => c.Status == "fail");
        Assert.True(failed.Detail.Contains("swarm key mismatch"), failed.ToString());
        Assert.Contains("--swarm-key", failed.Fix);
        Assert.Single(failed.ToString().Split('\n'));
    }

    [Fact]
    public async Task UnreachableBootstrapAndBusyPortAndOpenKeyFileEachSayWhatToDo()
    {
        var key = Path.Combine(_dir, "key");
        KeyFile.LoadOrCreate(key);
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var busy = _bootstrap.BoundAddresses[0].WithoutPeerId().ToString();
        var nobody = $"/ip4/127.0.0.1/tcp/1/p2p/{PrivateKey.FromSeed(new byte[32]).PeerId}";

        var report = await DoctorCommand.RunAsync(Settings(nobody) with { Listen = [busy] }, CancellationToken.None);

        Assert.False(report.Ok);
        Assert.Contains(report.Checks, c => c.Check == "key file" && c.Fix == $"chmod 600 {key}");
        Assert.Contains(report.Checks, c => c.Check == "listen" && c.Detail.Contains("already in use") && c.Fix!.Contains("--listen"));
        Assert.Contains(report.Checks, c => c.Check.StartsWith("bootstrap") && c.Status == "fail" && c.Fix!.Contains("nc -vz 127.0.0.1 1"));
    }

    [Fact]
    public async Task NodeWithoutListenerIsPrivateAndNoRelayMeansAFailWithTheFix()
    {
        // The bootstrap relays (Auto while its own reachability is unknown); a node that cannot be dialed back is
        // private and gets a reservation. With relaying off on the bootstrap, the relays check fails instead.
        await _bootstrap.DisposeAsync();
        var settings = Settings() with { KeyFile = Path.Combine(_dir, "bootstrap-key"), Relay = new RelaySettings(Mode: "off") };
        var key = KeyFile.LoadOrCreate(settings.KeyFile);
        var identity = NodeDaemon.IdentityOf(settings, Tokenizers.Create(settings.Data.Tokenizer).VocabSize);
        var gate = new ConnectionHandshake(identity, settings.Swarm.SwarmKey, key.PeerId, settings.Swarm.ControlMessageBytesMax, NullLogger.Instance);
        _bootstrap = new Libp2pHost(NodeDaemon.HostOptions(settings, key, gate, identity, [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")], [], NullLoggerFactory.Instance));
        await _bootstrap.StartAsync();
        // 127.0.0.2 is loopback too, but nothing listens on the port we announce there: dial-back fails, as behind a NAT.
        var report = await DoctorCommand.RunAsync(Settings(BootstrapAddress) with { Listen = ["/ip4/127.0.0.2/tcp/0"] }, CancellationToken.None);

        Assert.Contains(report.Checks, c => c.Check == "relays" && c.Status == "fail" && c.Detail.StartsWith("no relay reachable") && c.Fix!.Contains("--relay auto"));
    }

    [Fact]
    public void AnnouncingAnAddressNobodyCanDialStopsTheNodeWithOneLine()
    {
        foreach (var bad in new[] { "/ip4/127.0.0.1/tcp/4001", "/ip4/0.0.0.0/tcp/4001", "/ip4/203.0.113.9/tcp/0", "not-an-address" })
        {
            var saved = Console.Error;
            var capture = new StringWriter();
            Console.SetError(capture);
            int code;
            try { code = CliApp.Run(["node", "run", "--announce", bad, "--key-file", Path.Combine(_dir, "k"), "--data-dir", _dir]); }
            finally { Console.SetError(saved); }
            Assert.Equal(CliErrors.UsageError, code);
            var line = Assert.Single(capture.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: --announce {bad}: ", line);
        }
    }
}

/// <summary>Keeps log lines for failure messages.</summary>
internal sealed class ListLog : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
{
    private readonly List<string> _lines = [];
    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;
    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider) { }
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines) _lines.Add($"{logLevel}: {formatter(state, exception)}");
    }
    public override string ToString() { lock (_lines) return string.Join("\n", _lines); }
}
