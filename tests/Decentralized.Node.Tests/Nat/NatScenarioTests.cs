using System.Diagnostics;
using System.Text.Json.Nodes;
using Decentralized.Node.Tests.Daemon;
using Xunit.Abstractions;

namespace Decentralized.Node.Tests.Nat;

/// <summary>
/// Real daemons behind real (namespaced, nftables) NATs: what the doctor says for a public, a NATed and a firewalled
/// peer; peers behind port-randomising NATs training through a relay; a NATed peer with no relay told so.
/// Skipped, with the reason, where namespaces cannot be created.
/// </summary>
[Collection("daemons")]
[Trait("Category", "Daemon")]
public sealed class NatScenarioTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);
    private const string Key = "00112233445566778899aabbccddeeff";
    private static readonly string[] Swarm = ["--model", "tiny", "--seq-len", "32", "--inner-steps", "5", "--swarm-key", Key];

    private readonly string _root = Directory.CreateTempSubdirectory("nat-").FullName;
    private readonly ITestOutputHelper _output;
    private readonly NatLab? _lab;
    private readonly List<DaemonProcess> _daemons = [];

    public NatScenarioTests(ITestOutputHelper output)
    {
        _output = output;
        if (NatLab.SkipReason is null) _lab = new NatLab();
    }

    private NatLab Lab => _lab!;

    private DaemonProcess Start(string host, long rounds, params string[] more)
    {
        string[] args =
        [
            .. Swarm, "--batch-size", "4", "--warmup", "5", "--lr", "3e-3", "--rounds", rounds.ToString(), "--device", "cpu", "--eval-batches", "1",
            "--round-timeout", "20", "--heartbeat", "0.5", "--peer-timeout", "6", "--log-level", "debug", .. more,
        ];
        var daemon = new DaemonProcess(Path.Combine(_root, host), args, Lab.In(host), "/ip4/0.0.0.0/tcp/4001");
        _daemons.Add(daemon);
        return daemon;
    }

    private static string PeerId(DaemonProcess d) => d.WaitFor(e => DaemonProcess.Is(e, "listening"), Long, "listening")["peer_id"]!.GetValue<string>();

    private static string AddressOf(DaemonProcess d, string host) => $"/ip4/{NatLab.Ip(host)}/tcp/4001/p2p/{PeerId(d)}";

    private static JsonNode Reachability(DaemonProcess d) => d.WaitFor(e => DaemonProcess.Is(e, "reachability") && e["reachability"]!.GetValue<string>() != "unknown", Long, "reachability");

    [NatLabFact]
    public async Task DoctorTellsAPublicANatedAndAFirewalledPeerApart()
    {
        var boot = Start("boot", rounds: 0);
        var bootstrap = AddressOf(boot, "boot");

        var results = await Task.WhenAll(
            DoctorAsync("pub", bootstrap), DoctorAsync("h1", bootstrap), DoctorAsync("fw", bootstrap));
        var (pub, nated, firewalled) = (results[0], results[1], results[2]);

        Assert.Equal("public", pub["reachability"]!.GetValue<string>());
        Assert.True(pub["ok"]!.GetValue<bool>());
        Assert.Equal("private", nated["reachability"]!.GetValue<string>());
        Assert.Equal("ok", Check(nated, "relays")["status"]!.GetValue<string>());
        Assert.Contains("forward TCP port 4001", Check(nated, "reachability")["fix"]!.GetValue<string>());
        Assert.Contains("--announce /ip4/203.0.113.21/tcp/4001", Check(nated, "reachability")["fix"]!.GetValue<string>());
        Assert.Equal("private", firewalled["reachability"]!.GetValue<string>());
        Assert.Contains("--announce /ip4/203.0.113.12/tcp/4001", Check(firewalled, "reachability")["fix"]!.GetValue<string>());
    }

    [NatLabFact]
    public async Task ScenarioC_NatedPeerWithNoRelayIsToldSoAtStartAndByTheDoctor()
    {
        var boot = Start("boot", rounds: 0, "--relay", "off");
        var bootstrap = AddressOf(boot, "boot");
        var nated = Start("h1", rounds: 0, "--bootstrap", bootstrap);

        var line = Reachability(nated)["line"]!.GetValue<string>();
        _output.WriteLine($"h1 start-up line: {line}");
        Assert.StartsWith("reachability: private", line);
        Assert.Contains("no relay reachable", line);
        Assert.Contains("forward TCP port 4001", line);

        var doctor = await DoctorAsync("h2", bootstrap);
        Assert.Equal("fail", Check(doctor, "relays")["status"]!.GetValue<string>());
        Assert.Contains("--relay auto", Check(doctor, "relays")["fix"]!.GetValue<string>());
    }

    [NatLabFact]
    public async Task ScenarioB_PeersBehindPortRandomisingNatsTrainThroughTheRelayWithinItsLimits()
    {
        // Enough rounds after the relay's cut (about two rounds of updates fill 1 MiB) for the peers to need each other
        // again: with 3, the cut could come in the last round, which then closed without the pair and no new circuit.
        // fp32 weights (0.53 MiB a round per direction here); the default chain sends 8-bit anchored weights, about 0.14 MiB,
        // which would reach the cut only after the last round.
        const long rounds = 6;
        var boot = Start("boot", rounds, "--relay", "on", "--relay-limit-mb", "1", "--min-peers", "3", "--compress", "fp32");
        var bootstrap = AddressOf(boot, "boot");
        var a = Start("h3", rounds, "--bootstrap", bootstrap, "--min-peers", "3", "--compress", "fp32");
        Assert.Equal("private", Reachability(a)["reachability"]!.GetValue<string>());
        var b = Start("h4", rounds, "--bootstrap", bootstrap, "--min-peers", "3", "--compress", "fp32");

        foreach (var d in new[] { boot, a, b }) await d.ExpectCleanExitAsync(Long);

        var reportA = a.Report();
        var reportB = b.Report();
        _output.WriteLine($"h3 report: {Summary(reportA)}\nh4 report: {Summary(reportB)}");
        AssertReachedLastRound(reportA, rounds);
        AssertReachedLastRound(reportB, rounds);
        // The two NATed peers exchanged updates with each other only through the relay: no direct bytes between them.
        var aToB = reportA["connections"]!.AsArray().FirstOrDefault(c => c!["peer_id"]!.GetValue<string>() == PeerId(b));
        if (aToB is not null) Assert.True(aToB["relayed"]!.GetValue<bool>(), $"h3-h4 must be relayed: {aToB}");
        Assert.True(reportA["bytes_relayed_total"]!.GetValue<long>() > 0, Summary(reportA));
        // The relay allows 1 MiB per relayed connection and direction: a connection that reaches it is cut (by the
        // client before the relay has to), the peers dial again through the relay, and training goes on.
        Assert.Contains("data limit of 1048576 bytes", boot.Log + a.Log + b.Log);
        var circuits = boot.Log.Split('\n').Count(l => l.Contains("Relaying "));
        Assert.True(circuits >= 2, $"after the cut the peers must come back through the relay: {circuits} relayed connection(s)");
    }

    [NatLabFact]
    public async Task ScenarioA_TwoNatedPeersMeetThroughTheRelayThenHolePunchToADirectConnection()
    {
        // Long enough to outlast a first punch that fails under load (a dial can take 5 s before the retry): with 4
        // rounds of about half a second the swarm once finished while the first attempt was still dialling.
        const long rounds = 16;
        var boot = Start("boot", rounds, "--min-peers", "3");
        var bootstrap = AddressOf(boot, "boot");
        var a = Start("h1", rounds, "--bootstrap", bootstrap, "--min-peers", "3");
        Assert.Equal("private", Reachability(a)["reachability"]!.GetValue<string>());
        var b = Start("h2", rounds, "--bootstrap", bootstrap, "--min-peers", "3");

        foreach (var d in new[] { boot, a, b }) await d.ExpectCleanExitAsync(Long);

        var reportA = a.Report();
        var reportB = b.Report();
        _output.WriteLine($"h1 report: {Summary(reportA)}\nh2 report: {Summary(reportB)}");
        AssertReachedLastRound(reportA, rounds);
        AssertReachedLastRound(reportB, rounds);
        Assert.Contains("Hole punch", a.Log + b.Log);
        // At the end h1 and h2 talk directly, and most of what they exchanged went direct rather than through the relay.
        // Each report lists the connections still open when that daemon wrote it; the peer that finishes first closes
        // the pair's connection, so the other may no longer list it. Either side's record of it carries the same facts.
        JsonNode? PairIn(JsonNode report, DaemonProcess other) =>
            report["connections"]!.AsArray().FirstOrDefault(c => c!["peer_id"]!.GetValue<string>() == PeerId(other));
        var aToB = PairIn(reportA, b) ?? PairIn(reportB, a)
            ?? throw new Xunit.Sdk.XunitException($"neither h1 nor h2 reports their connection\nh1: {Summary(reportA)}\nh2: {Summary(reportB)}");
        Assert.False(aToB["relayed"]!.GetValue<bool>(), aToB.ToJsonString());
        // h1's record of everything it exchanged with h2 (closed connections included, relayed ones among them).
        var traffic = reportA["traffic_by_peer"]!.AsArray().Single(c => c!["peer_id"]!.GetValue<string>() == PeerId(b))!;
        var pairBytes = traffic["bytes_in"]!.GetValue<long>() + traffic["bytes_out"]!.GetValue<long>();
        var relayed = traffic["relayed_bytes"]!.GetValue<long>();
        _output.WriteLine($"h1<->h2: {pairBytes} bytes, {relayed} relayed ({100.0 * relayed / pairBytes:F1}%), {pairBytes - relayed} direct");
        Assert.Equal(pairBytes - relayed, traffic["direct_bytes"]!.GetValue<long>());
        Assert.True(relayed > 0, $"h1 and h2 first met through the relay: {traffic.ToJsonString()}");
        Assert.True(relayed * 2 < pairBytes, $"most bytes must go direct: {relayed} of {pairBytes} relayed");
    }

    /// <summary>The peer reached the swarm's last round and trained in several: a peer that falls behind under load skips
    /// ahead to where most peers are, so it need not complete every round itself.</summary>
    private static void AssertReachedLastRound(JsonNode report, long rounds)
    {
        Assert.Equal(rounds, report["round"]!.GetValue<long>());
        Assert.True(report["rounds"]!.GetValue<long>() >= 2, Summary(report));
    }

    private static string Summary(JsonNode report) =>
        $"rounds {report["rounds"]} direct {report["bytes_direct_total"]} relayed {report["bytes_relayed_total"]} connections {report["connections"]?.ToJsonString()}";

    private static JsonNode Check(JsonNode doctor, string name) =>
        doctor["checks"]!.AsArray().First(c => c!["check"]!.GetValue<string>() == name)!;

    /// <summary>Runs <c>decentralized doctor --json</c> inside <paramref name="host"/> and logs its findings as the user sees them.</summary>
    private async Task<JsonNode> DoctorAsync(string host, string bootstrap)
    {
        var words = Lab.In(host).Concat(["dotnet", Path.Combine(AppContext.BaseDirectory, "decentralized.dll"), "doctor", .. Swarm,
            "--listen", "/ip4/0.0.0.0/tcp/4001", "--bootstrap", bootstrap, "--key-file", Path.Combine(_root, host + "-doctor.key"),
            "--data-dir", Path.Combine(_root, host + "-doctor"), "--json"]).ToArray();
        var info = new ProcessStartInfo(words[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var w in words.Skip(1)) info.ArgumentList.Add(w);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        var json = JsonNode.Parse(await stdout) ?? throw new InvalidOperationException($"doctor in {host} printed nothing: {await stderr}");
        _output.WriteLine($"--- doctor in {host} (exit {process.ExitCode}):");
        foreach (var c in json["checks"]!.AsArray())
            _output.WriteLine($"{(c!["status"]!.GetValue<string>() == "fail" ? "FAIL" : c["status"]!.GetValue<string>()),-5} {c["check"]}: {c["detail"]}{(c["fix"] is { } fix ? $"; fix: {fix}" : "")}");
        return json;
    }

    public void Dispose()
    {
        foreach (var d in _daemons)
        {
            _output.WriteLine($"--- log of {d.Dir}:\n{string.Join('\n', d.Log.Split('\n').Where(l => !l.Contains("dbug:") || l.Contains("AutoNAT") || l.Contains("elay")).TakeLast(60))}");
            d.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        _lab?.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
