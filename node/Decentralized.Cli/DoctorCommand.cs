using System.CommandLine;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Decentralized.Node.Data;
using Decentralized.Node.Swarm;
using Decentralized.Protocol;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Decentralized.Cli;

/// <summary>
/// <c>decentralized doctor</c>: checks what a node needs before training, with the same options as <c>node run</c>
/// (so the same key file, swarm key, config hash, listen and announce addresses): the key file, the listen port,
/// each bootstrap peer (dial, swarm gate, round trip), reachability (AutoNAT through the bootstrap peers), relays
/// and free disk. Each failed check is one line naming the fix. Exit code 1 if any check failed.
/// </summary>
public static class DoctorCommand
{
    /// <summary>Free space below which checkpoints may fail to save.</summary>
    public const long DiskBytesMin = 1L << 30;

    private static readonly TimeSpan BootstrapTimeout = TimeSpan.FromSeconds(15);

    public static Command Create()
    {
        var c = new Command("doctor", "Check the key file, listen port, bootstrap peers, reachability, relays and disk; print the fix for each problem.");
        var settingsOf = NodeOptions.Declare(c);
        var json = c.Add("json", "Print one JSON object (for scripts) instead of lines.", false);
        var logLevel = c.Add("log-level", "none | debug | information | warning: the network log on stderr, to see why a check failed.", "none");
        c.SetAction(async (parse, ct) =>
        {
            var level = parse.GetValue(logLevel)!;
            using var logs = level == "none" ? NullLoggerFactory.Instance
                : LoggerFactory.Create(b => b.SetMinimumLevel(Enum.Parse<LogLevel>(level, ignoreCase: true))
                    .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
                    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            var report = await RunAsync(settingsOf(parse), ct, logs);
            if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, JsonOutput.Options));
            else foreach (var check in report.Checks) Console.WriteLine(check);
            return report.Ok ? 0 : 1;
        });
        return c;
    }

    /// <summary>The doctor's findings: every check, the peer ID and the reachability verdict.</summary>
    public sealed record Report(bool Ok, string PeerId, string Reachability, IReadOnlyList<DoctorCheck> Checks);

    public static async Task<Report> RunAsync(NodeSettings s, CancellationToken ct, ILoggerFactory? logs = null)
    {
        logs ??= NullLoggerFactory.Instance;
        var checks = new List<DoctorCheck>();
        var key = CheckKeyFile(s.KeyFile, checks);
        IReadOnlyList<Multiaddr> announce = [];
        try { announce = NodeDaemon.ParseAnnounce(s.Announce); }
        catch (ArgumentException e) { checks.Add(DoctorCheck.Fail("announce", e.Message, "announce the public IP or DNS name and the real port peers should dial, e.g. --announce /ip4/203.0.113.7/tcp/4001")); }

        var identity = NodeDaemon.IdentityOf(s, Tokenizers.Create(s.Data.Tokenizer).VocabSize);
        var gate = new ConnectionHandshake(identity, s.Swarm.SwarmKey, key.PeerId, s.Swarm.ControlMessageBytesMax, NullLogger.Instance);
        var listen = s.Listen.Select(Multiaddr.Parse).ToArray();
        Libp2pHostOptions Options(IReadOnlyList<Multiaddr> l) => NodeDaemon.HostOptions(s, key, gate, identity, l, announce, logs) with
        {
            // The doctor only looks: it neither relays for others nor re-checks on its own.
            Relay = new RelayOptions { Mode = RelayMode.Off, AutoReserve = false },
        };
        var host = new Libp2pHost(Options(listen));
        try
        {
            await host.StartAsync(ct);
            checks.Add(DoctorCheck.Ok("listen", $"listening on {string.Join(" ", host.BoundAddresses.Select(a => a.WithoutPeerId()))}"));
        }
        catch (SocketException e)
        {
            checks.Add(ListenFailure(listen, e));
            await host.DisposeAsync();
            host = new Libp2pHost(Options([]));   // still check the peers, dialing only
        }
        await using (host)
        {
            var connected = await CheckBootstrapAsync(host, s.Bootstrap, checks, ct);
            var verdict = connected == 0 ? Reachability.Unknown : await host.CheckReachabilityAsync(ct);
            checks.Add(ReachabilityCheck(host, verdict, connected, listen));
            checks.Add(await RelayCheckAsync(host, verdict, ct));
            checks.Add(DiskCheck(s.DataDir));
            return new Report(checks.All(c => c.Status != "fail"), key.PeerId.ToString(), verdict.ToString().ToLowerInvariant(), checks);
        }
    }

    private static PrivateKey CheckKeyFile(string path, List<DoctorCheck> checks)
    {
        if (!File.Exists(path))
        {
            checks.Add(DoctorCheck.Warn("key file", $"{path} does not exist yet; the node creates it at first start (and with it its peer ID)", $"to fix the peer ID now: decentralized keygen --key-file {path}"));
            return PrivateKey.Generate();
        }
        try
        {
            var key = KeyFile.Load(path);
            if (KeyFile.OthersCanAccess(path))
            {
                checks.Add(DoctorCheck.Fail("key file", $"{path} (peer {key.PeerId}) is readable by other users, who could impersonate this node", $"chmod 600 {path}"));
            }
            else
            {
                checks.Add(DoctorCheck.Ok("key file", $"{path}: peer {key.PeerId}"));
            }
            return key;
        }
        catch (Exception e) when (e is ProtocolException or IOException or UnauthorizedAccessException)
        {
            checks.Add(DoctorCheck.Fail("key file", $"{path} cannot be used: {e.Message}",
                $"move it away (mv {path} {path}.bad) and a new key is created at next start (a new peer ID), or point --key-file at the right file"));
            return PrivateKey.Generate();
        }
    }

    private static DoctorCheck ListenFailure(IReadOnlyList<Multiaddr> listen, SocketException e)
    {
        var port = listen.Select(AddressScope.TcpPortOf).FirstOrDefault() ?? 4001;
        return e.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => DoctorCheck.Fail("listen", $"TCP port {port} is already in use (is a node already running? see: ss -ltnp 'sport = :{port}')",
                $"stop the other process or pass --listen /ip4/0.0.0.0/tcp/<free port>"),
            SocketError.AccessDenied => DoctorCheck.Fail("listen", $"not allowed to listen on TCP port {port}", "ports below 1024 need root: pass --listen /ip4/0.0.0.0/tcp/4001"),
            _ => DoctorCheck.Fail("listen", $"cannot listen on {string.Join(" ", listen)}: {e.Message}", "pass --listen /ip4/0.0.0.0/tcp/4001 (an address of this machine)"),
        };
    }

    private static async Task<int> CheckBootstrapAsync(Libp2pHost host, IReadOnlyList<string> bootstrap, List<DoctorCheck> checks, CancellationToken ct)
    {
        if (bootstrap.Count == 0)
        {
            checks.Add(DoctorCheck.Warn("bootstrap", "no --bootstrap given: this node would start a new swarm, and nobody can check its reachability",
                "to join a swarm, pass --bootstrap <address of any member>, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…"));
            return 0;
        }
        var connected = 0;
        foreach (var text in bootstrap)
        {
            var name = $"bootstrap {text}";
            if (!Multiaddr.TryParse(text, out var address) || address.GetPeerId() is null)
            {
                checks.Add(DoctorCheck.Fail(name, "not a peer address", "write it like /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW… (copy it from the peer's start-up line)"));
                continue;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(BootstrapTimeout);
            try
            {
                var peer = await host.DialAsync(address, timeout.Token);
                var rtt = await host.PingAsync(peer, timeout.Token);
                connected++;
                checks.Add(DoctorCheck.Ok(name, $"reached peer {peer}: protocol, swarm key and config match; round trip {rtt.TotalMilliseconds:F1} ms"));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                checks.Add(BootstrapFailure(name, address, e));
            }
        }
        return connected;
    }

    private static DoctorCheck BootstrapFailure(string name, Multiaddr address, Exception e)
    {
        var message = e.InnerException is SwarmProtocolException inner ? inner.Message : e.Message;
        var target = AddressScope.IpOf(address) is { } ip ? $"{ip} port {AddressScope.TcpPortOf(address)}" : address.ToString();
        if (message.Contains("swarm key mismatch")) return DoctorCheck.Fail(name, message, "pass the swarm's key: --swarm-key <hex> (or --swarm-key @file); ask a member for it");
        if (message.Contains("swarm id mismatch")) return DoctorCheck.Fail(name, message, "pass the swarm's name with --swarm-id (theirs is quoted above)");
        if (message.Contains("config mismatch")) return DoctorCheck.Fail(name, message, "use the swarm's --model, --tokenizer, --algorithm, --inner-steps and outer settings (or its --config file)");
        if (message.Contains("version mismatch")) return DoctorCheck.Fail(name, message, "install the same decentralized version as the swarm");
        if (e is ProtocolException { Code: ProtocolErrorCode.GateRejected })
            return DoctorCheck.Fail(name, $"the peer at {target} refused us during the swarm check: {message}",
                "pass the swarm's --swarm-key, --swarm-id and training settings (or its --config file); the member's log names the one that differs");
        if (e is ProtocolException { Code: ProtocolErrorCode.PeerIdMismatch })
            return DoctorCheck.Fail(name, $"a different peer answers at {target}: {message}", "copy the address again from the peer's start-up line (the /p2p/ id is wrong)");
        return DoctorCheck.Fail(name, $"cannot reach {target}: {message}",
            $"check the address and that the peer runs, and that TCP port {AddressScope.TcpPortOf(address)} is open on its side (test from here: nc -vz {AddressScope.IpOf(address)?.ToString() ?? "<host>"} {AddressScope.TcpPortOf(address)})");
    }

    private static DoctorCheck ReachabilityCheck(Libp2pHost host, Reachability verdict, int connected, IReadOnlyList<Multiaddr> listen)
    {
        var port = host.BoundAddresses.Select(AddressScope.TcpPortOf).FirstOrDefault() ?? listen.Select(AddressScope.TcpPortOf).FirstOrDefault() ?? 4001;
        var observed = host.ObservedAddresses.FirstOrDefault();
        var ip = observed is null ? null : AddressScope.IpOf(observed);
        return verdict switch
        {
            Reachability.Public => DoctorCheck.Ok("reachability", $"public: {host.ReachabilityAnswers} peer(s) dialed us back; announcing {string.Join(" ", host.ListenAddresses.Where(a => !AddressScope.IsCircuit(a)))}"),
            Reachability.Private => DoctorCheck.Fail("reachability",
                $"private: peers see us as {observed?.ToString() ?? "?"} but could not connect back to TCP port {port} (a NAT or firewall blocks it)",
                $"forward TCP port {port} to this machine on your router (or allow it in the firewall: ufw allow {port}/tcp) and pass --announce /ip4/{ip?.ToString() ?? "<public ip>"}/tcp/{port}; until then peers reach this node only through a relay"),
            _ when host.BoundAddresses.Count == 0 => DoctorCheck.Warn("reachability", "unknown: nothing listens, so nothing could be dialed back", "fix the listen check first"),
            _ when connected == 0 => DoctorCheck.Warn("reachability", "unknown: no bootstrap peer reached, so nobody could try to dial us back", "fix the bootstrap checks first"),
            _ => DoctorCheck.Warn("reachability", "unknown: no bootstrap peer answered the dial-back request (AutoNAT)", "try again in a minute (peers limit dial-backs to 3 per minute)"),
        };
    }

    private static async Task<DoctorCheck> RelayCheckAsync(Libp2pHost host, Reachability verdict, CancellationToken ct)
    {
        var relays = host.KnownRelays;
        if (verdict != Reachability.Private)
            return DoctorCheck.Ok("relays", $"{relays.Count} relay(s) among the bootstrap peers{(verdict == Reachability.Public ? "; not needed, this node is publicly reachable (and relays for others by default)" : "")}");
        var accepted = 0;
        foreach (var relay in relays)
            if (await host.ReserveOnAsync(relay, ct)) accepted++;
        return accepted > 0
            ? DoctorCheck.Ok("relays", $"{accepted} relay(s) accept a reservation: peers reach this node through them, and hole punching can upgrade to direct connections")
            : DoctorCheck.Fail("relays", relays.Count == 0 ? "no relay reachable: none of the bootstrap peers offers circuit relay" : $"no relay reachable: {relays.Count} relay(s) refused a reservation",
                "peers behind a NAT need one: bootstrap from a publicly reachable member (members relay by default, --relay auto) or open the port as above");
    }

    private static DoctorCheck DiskCheck(string dataDir)
    {
        var existing = Path.GetFullPath(dataDir);
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent) existing = parent;
        var drive = new DriveInfo(existing);
        var free = drive.AvailableFreeSpace;
        return free >= DiskBytesMin
            ? DoctorCheck.Ok("disk", $"{Units.Bytes(free)} free for checkpoints in {dataDir}")
            : DoctorCheck.Fail("disk", $"only {Units.Bytes(free)} free on {drive.RootDirectory.FullName} for checkpoints in {dataDir}",
                $"free space there or pass --data-dir <folder on a disk with at least {Units.Bytes(DiskBytesMin)} free>");
    }
}
