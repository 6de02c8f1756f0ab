using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Decentralized.Soak;

/// <summary>
/// The run: N peers on loopback (tiny model, one thread each), peer1..N-1 killed (SIGKILL) and restarted from their
/// checkpoints in turn, a fresh joiner now and then, every process sampled at a fixed interval into soak.csv.
/// </summary>
public sealed class SoakRun(SoakOptions options, TextWriter progress) : IDisposable
{
    private readonly string _key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
    private readonly NodeProcess?[] _peers = new NodeProcess?[options.Peers];
    private readonly List<(NodeProcess Process, double Leaves)> _joiners = new();
    private readonly List<NodeProcess> _all = new();
    private readonly List<string> _failures = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _restarts, _joins;

    public List<Sample> Samples { get; } = new();
    public IReadOnlyList<string> Failures => _failures;

    /// <summary>Records a failure found outside the run loop (e.g. the harness itself broke).</summary>
    public void Fail(string reason) => _failures.Add(reason);
    public int Restarts => _restarts;
    public int Joins => _joins;

    /// <summary>Node options for every process: small and quick, so rounds (and so churn) happen often on one core each.</summary>
    private string[] NodeArgs(params string[] more) =>
    [
        "--model", "tiny", "--batch-size", "8", "--seq-len", "64", "--inner-steps", "20", "--warmup", "20", "--lr", "3e-3",
        "--device", "cpu", "--threads", "1", "--eval-batches", "2", "--heartbeat", "1", "--peer-timeout", "10", "--round-timeout", "30",
        "--checkpoint-every-rounds", "5", "--swarm-key", _key, "--swarm-id", "soak", "--rounds", "0", .. more,
    ];

    public async Task RunAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(options.Output);
        var csv = new StreamWriter(Path.Combine(options.Output, "soak.csv")) { AutoFlush = true };
        await using (csv)
        {
            await csv.WriteLineAsync(Sample.Header);
            for (int i = 0; i < _peers.Length; i++) await StartPeerAsync(i);
            _clock.Restart();   // the run's minutes count from a formed swarm, not from the first process start
            using var http = new HttpClient();
            var probe = new Probe(http);
            double end = options.Minutes * 60, nextKill = options.KillMinutes * 60, nextJoin = options.JoinMinutes * 60 / 2;
            int victim = 1;
            // Churn (a restart waits ~10-30 s for the process to listen) runs beside the sampling, one action at a time.
            Task churn = Task.CompletedTask;
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.SampleSeconds));
            while (Now < end && await timer.WaitForNextTickAsync(ct))
            {
                double now = Now;
                var samples = await Task.WhenAll(Running().Select(p => probe.ReadAsync(p, now)));
                foreach (var sample in samples)
                {
                    Samples.Add(sample);
                    await csv.WriteLineAsync(sample.ToCsv());
                }
                CheckUnexpectedExits();
                foreach (var (j, _) in Joiners().Where(j => !j.Process.Stopped && Now >= j.Leaves)) { Say($"{j.Name} leaves (SIGTERM)"); j.Terminate(); }
                if (churn.IsFaulted) { _failures.Add($"churn failed: {churn.Exception!.GetBaseException().Message}"); churn = Task.CompletedTask; }
                if (!churn.IsCompleted) continue;
                if (Now >= nextKill)
                {
                    churn = RestartAsync(victim);
                    victim = victim % (_peers.Length - 1) + 1;
                    nextKill += options.KillMinutes * 60;
                }
                else if (Now >= nextJoin)
                {
                    churn = StartJoinerAsync();
                    nextJoin += options.JoinMinutes * 60;
                }
            }
            try { await churn; } catch (Exception) { }
            await StopAllAsync();
        }
    }

    private double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>Processes to sample: alive and already listening (a restart in progress has no status endpoint yet).</summary>
    private IEnumerable<NodeProcess> Running() { lock (_all) return _all.Where(p => !p.HasExited && p.Http.Length > 0).ToArray(); }

    private (NodeProcess Process, double Leaves)[] Joiners() { lock (_all) return _joiners.ToArray(); }

    private string Bootstrap => _peers[0]!.Address;

    private async Task StartPeerAsync(int i)
    {
        var more = i == 0 ? NodeArgs() : NodeArgs("--bootstrap", Bootstrap);
        var p = new NodeProcess($"peer{i}", "peer", options.Node, Path.Combine(options.Output, $"peer{i}"), more);
        lock (_all) _all.Add(p);
        await p.WaitListeningAsync(TimeSpan.FromMinutes(2));
        _peers[i] = p;
        Say($"peer{i} up (pid {p.Pid}, status http://{p.Http}/)");
    }

    private async Task RestartAsync(int i)
    {
        var old = _peers[i]!;
        Say($"peer{i} killed (SIGKILL, pid {old.Pid})");
        old.KillHard();
        await old.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(3));
        await StartPeerAsync(i);   // same folder: it resumes from its last checkpoint, then catches up with the swarm
        _restarts++;
    }

    private async Task StartJoinerAsync()
    {
        var name = $"joiner{++_joins}";
        var p = new NodeProcess(name, "joiner", options.Node, Path.Combine(options.Output, name), NodeArgs("--bootstrap", Bootstrap));
        lock (_all) _all.Add(p);
        await p.WaitListeningAsync(TimeSpan.FromMinutes(2));
        lock (_all) _joiners.Add((p, Now + options.JoinerStayMinutes * 60));
        Say($"{name} arrives (pid {p.Pid})");
    }

    private void CheckUnexpectedExits()
    {
        NodeProcess[] exited;
        lock (_all) exited = _all.Where(p => p.HasExited && !p.Stopped).ToArray();
        foreach (var p in exited)
        {
            _failures.Add($"{p.Name} (pid {p.Pid}) exited by itself with code {p.ExitCode}; see {Path.Combine(options.Output, p.Name, $"node-{p.Pid}.log")}");
            lock (_all) _all.Remove(p);
        }
    }

    private async Task StopAllAsync()
    {
        NodeProcess[] all;
        lock (_all) all = _all.ToArray();
        foreach (var p in all.Where(p => !p.HasExited)) p.Terminate();
        foreach (var p in _all) await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        foreach (var p in _all.Where(p => p.HasExited && p.ExitCode != 0 && p.Role == "peer" && p == _peers[int.Parse(p.Name[4..], CultureInfo.InvariantCulture)]))
            _failures.Add($"{p.Name} (pid {p.Pid}) exited with {p.ExitCode} on SIGTERM");
    }

    private void Say(string line) => progress.WriteLine($"[{_clock.Elapsed:hh\\:mm\\:ss}] {line}");

    public void Dispose()
    {
        foreach (var p in _all) p.Dispose();
    }
}
