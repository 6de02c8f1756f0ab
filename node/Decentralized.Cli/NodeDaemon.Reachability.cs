using Decentralized.Node.Export;
using Decentralized.Node.Swarm;
using Decentralized.Protocol.Addressing;
using Decentralized.Protocol.Identity;
using Decentralized.Protocol.Nat;
using Decentralized.Protocol.Tcp;
using Microsoft.Extensions.Logging;

namespace Decentralized.Cli;

public sealed partial class NodeDaemon
{
    /// <summary>How long the start-up reachability check may take before it reports what it has.</summary>
    private static readonly TimeSpan ReachabilityCheckTime = TimeSpan.FromSeconds(45);

    /// <summary>What peers must agree on (version, swarm id, config hash); the doctor computes the same.</summary>
    public static SwarmIdentity IdentityOf(NodeSettings s, int vocabSize, InitialWeights? initial = null)
    {
        var m = s.Model with { VocabSize = vocabSize };
        // Starting weights from --init-from are part of what members must share; seeded weights are named by the seed.
        if (s.InitFrom is not null) initial ??= InitialWeights.Load(s.InitFrom, m);
        var algorithm = s.Swarm.Algorithm;
        static string N(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        static string L(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Everything that changes what the model is or what crosses the wire, each by the option that sets it, so a
        // refusal names the option to change. The inner optimizer's settings (--lr, --warmup) stay out: members may differ.
        // Its kind goes in (a swarm mixing AdamW and Muon replicas would measure neither; checkpoints follow the hash), only
        // when it is not AdamW, so the hashes of existing AdamW swarms and their checkpoints stay as they were.
        var settings = new Dictionary<string, string>
        {
            ["model"] = FormattableString.Invariant($"{m.Layers} layers x {m.Dim} wide, {m.Heads} heads, context {m.ContextLength}, vocabulary {m.VocabSize} ({m.Hash()})"),
            ["tokenizer"] = s.Data.Tokenizer,
            // Members on different splits would train on each other's validation text.
            ["split-unit"] = s.Data.SplitUnit.ToString().ToLowerInvariant(),
            ["algorithm"] = s.Swarm.Algorithm.ToString().ToLowerInvariant(),
            ["inner-steps"] = L(s.Swarm.InnerStepsPerRound),
            ["seed"] = L(s.Swarm.SwarmSeed),
            // Every member draws its starting weights from the seed; with another scheme they would start apart.
            ["init"] = s.Init.ToString(),
            ["compress"] = s.Compress,
            ["overlap"] = s.Swarm.Overlap ? "on" : "off",
            ["sync-warmup"] = L(s.Swarm.SyncWarmupSteps),
            // Members that judge differently apply different updates (DiLoCo's members would drift apart).
            ["verify"] = s.Swarm.Verify is { } v ? FormattableString.Invariant($"on, tolerance {v.Tolerance}, min share {v.MinShare}, clip {v.ClipMultiple}x{(v.DownWeight ? ", down-weight" : "")}") : "off",
        };
        if (algorithm == Decentralized.Node.Training.Algorithm.SparseLoCo)
        {
            // Its own wire form for the rounds (--compress still carries the synchronous warm-up's gradients).
            settings["sparse-k"] = L(s.SparseLoCo.K);
            settings["sparse-beta"] = N(s.SparseLoCo.Beta);
            settings["sparse-lr"] = N(s.SparseLoCo.LearningRate);
            settings["sparse-positions"] = SparseLoCoNames.Positions(s.SparseLoCo.Positions);
            settings["sparse-mean"] = s.SparseLoCo.Mean.ToString().ToLowerInvariant();
            settings["sparse-clip"] = s.SparseLoCo.ClipToMedian ? "median" : "off";
            settings["sparse-group-size"] = L(s.SparseLoCo.GroupSize);
        }
        else if (algorithm == Decentralized.Node.Training.Algorithm.DiLoCo)
        {
            settings["outer-lr"] = N(s.DiLoCo.LearningRate);
            settings["outer-momentum"] = N(s.DiLoCo.Momentum);
            settings["outer-form"] = s.DiLoCo.Form.ToString().ToLowerInvariant();
        }
        else
        {
            settings["group-size"] = L(s.NoLoCo.GroupSize);
            settings["noloco-alpha"] = N(s.NoLoCo.Alpha);
            settings["noloco-beta"] = N(s.NoLoCo.Beta);
            settings["noloco-gamma"] = N(s.NoLoCo.EffectiveGamma);
            settings["noloco-form"] = s.NoLoCo.Form.ToString().ToLowerInvariant();
            settings["noloco-payload"] = s.Swarm.Payload?.ToString() ?? "default";
            settings["weights-compress"] = s.WeightsCompress;
        }
        if (s.Inner.Optimizer != Decentralized.Node.Training.InnerOptimizer.AdamW)
            settings["inner-optimizer"] = Decentralized.Node.Training.InnerOptimizerNames.Name(s.Inner.Optimizer);
        if (initial is not null) settings["init-from"] = $"weights {initial.Hash}";
        return SwarmIdentity.FromSettings(SwarmIdentity.SoftwareVersionOfThisBuild, s.Swarm.SwarmId, settings);
    }

    /// <summary>
    /// The identity key of any daemon of this project (created owner-only if missing). One that other users can read
    /// starts with a warning rather than a refusal: the peer ID must survive a restart, and only impersonation is at stake.
    /// </summary>
    public static PrivateKey LoadIdentityKey(string path, ILogger log)
    {
        var key = KeyFile.LoadOrCreate(path);
        if (KeyFile.OthersCanAccess(path))
            log.LogWarning("identity key {Path} (peer {Peer}) can be read or changed by other users, who could impersonate this node; run `chmod 600 {File}`", path, key.PeerId, path);
        return key;
    }

    /// <summary>The libp2p host a node (or the doctor) runs: swarm gate, announce list, relay service, port reuse for NATs.</summary>
    public static Libp2pHostOptions HostOptions(NodeSettings s, PrivateKey key, ConnectionHandshake gate, SwarmIdentity identity,
        IReadOnlyList<Multiaddr> listen, IReadOnlyList<Multiaddr> announce, ILoggerFactory logs) =>
        HostOptions(s.Relay, key, gate, identity, listen, announce, logs) with { Link = s.Link };

    /// <summary>The same host for any daemon of this project (the pipeline daemon too): one gate, one NAT and relay setup.</summary>
    public static Libp2pHostOptions HostOptions(RelaySettings relay, PrivateKey key, ConnectionHandshake gate, SwarmIdentity identity,
        IReadOnlyList<Multiaddr> listen, IReadOnlyList<Multiaddr> announce, ILoggerFactory logs) => new()
    {
        Identity = key,
        ListenAddresses = listen,
        AnnounceAddresses = announce,
        ConnectionGate = gate.RunAsync,
        ConnectionGateProtocol = SwarmProtocols.Gate,
        LoggerFactory = logs,
        AgentVersion = $"decentralized/{identity.SoftwareVersion}",
        // Dial from the listen port: behind a port-preserving NAT peers then see (and can punch to) that port.
        Nat = new NatOptions { ReuseListenPort = true, AutoReachability = true },
        Relay = new RelayOptions
        {
            Mode = Enum.Parse<RelayMode>(relay.Mode, ignoreCase: true),
            ReservationsMax = relay.Reservations,
            CircuitBytesMax = (long)(relay.LimitMb * (1 << 20)),
            CircuitDurationMax = TimeSpan.FromSeconds(relay.LimitSeconds),
        },
    };

    /// <summary>Parses and checks --announce values; an address nobody could dial stops the node with one line.</summary>
    public static IReadOnlyList<Multiaddr> ParseAnnounce(IReadOnlyList<string> values)
    {
        var result = new List<Multiaddr>();
        foreach (var text in values)
        {
            if (!Multiaddr.TryParse(text, out var address))
                throw new ArgumentException($"--announce {text}: not a multiaddr (expected e.g. /ip4/203.0.113.7/tcp/4001)");
            if (AddressScope.WhyNotAnnounceable(address) is { } why)
                throw new ArgumentException($"--announce {text}: {why}");
            result.Add(address);
        }
        return result;
    }

    /// <summary>
    /// Asks the peers we met to dial us back, then prints the one line that says whether others can reach us and which
    /// addresses we announce, with the fix when nobody can.
    /// </summary>
    private async Task ReportReachabilityAsync(Libp2pHost host, int bootstrapCount, CancellationToken stop)
    {
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
            deadline.CancelAfter(ReachabilityCheckTime);
            var verdict = bootstrapCount == 0 && host.ConnectedPeers.Count == 0 ? Reachability.Unknown : await host.CheckReachabilityAsync(deadline.Token);
            if (verdict == Reachability.Private)
                await host.WaitForRelayReservationAsync(deadline.Token);
            PrintReachability(host, verdict, bootstrapCount);
            // Later changes (a peer joins and dials us back, a NAT mapping changes) get the same line again.
            host.ReachabilityChanged += changed => _ = Task.Run(async () =>
            {
                if (changed == Reachability.Private) await host.WaitForRelayReservationAsync(stop);
                PrintReachability(host, changed, bootstrapCount);
            }, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _log.LogWarning("reachability check failed: {Reason}", e.Message);
        }
    }

    private void PrintReachability(Libp2pHost host, Reachability verdict, int bootstrapCount)
    {
        var line = ReachabilityLine(host, verdict, bootstrapCount);
        _log.LogInformation("{Line}", line);
        Emit(new { @event = "reachability", peer_id = host.LocalPeer.ToString(), reachability = verdict.ToString().ToLowerInvariant(),
            addrs = host.ListenAddresses.Select(a => a.ToString()), relays = host.RelayReservations.Select(r => r.ToString()), line });
    }

    /// <summary>"reachability: public|private|unknown (why); announcing …" plus the fix when peers cannot reach us.</summary>
    public static string ReachabilityLine(Libp2pHost host, Reachability verdict, int bootstrapCount)
    {
        var announcing = "announcing " + string.Join(" ", host.ListenAddresses);
        var port = host.BoundAddresses.Select(AddressScope.TcpPortOf).FirstOrDefault() ?? 4001;
        var observed = host.ObservedAddresses.FirstOrDefault();
        return verdict switch
        {
            Reachability.Public => $"reachability: public ({host.ReachabilityAnswers} peer(s) dialed us back); {announcing}",
            Reachability.Private when host.RelayReservations.Count > 0 =>
                $"reachability: private (behind a NAT or firewall; peers see us as {observed?.ToString() ?? "?"}), reachable through {host.RelayReservations.Count} relay(s); {announcing}",
            Reachability.Private =>
                $"reachability: private (peers could not dial us back on {observed?.ToString() ?? $"tcp/{port}"}) and no relay reachable, so peers cannot connect to this node; "
                + $"fix: forward TCP port {port} to this machine and pass --announce {AnnounceHint(observed, port)}, or join through a publicly reachable member (members relay by default); {announcing}",
            _ => bootstrapCount == 0
                ? $"reachability: unknown (no peer to ask yet: started without --bootstrap; checked again as peers join); {announcing}"
                : $"reachability: unknown (no bootstrap peer answered the dial-back request); {announcing}",
        };
    }

    private static string AnnounceHint(Multiaddr? observed, int port) =>
        observed is not null && AddressScope.IpOf(observed) is { } ip ? $"/{(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "ip4" : "ip6")}/{ip}/tcp/{port}" : $"/ip4/<your public ip>/tcp/{port}";
}
