using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Decentralized.Cli;

/// <summary>The processes of a local swarm: starting them, following their JSON events, stopping them with SIGTERM.</summary>
/// <remarks><paramref name="links"/>: each peer's emulated link (<c>node run --link</c>), null for none; one per peer.</remarks>
public sealed partial class LocalSwarm(string root, IReadOnlyList<string> commonArgs, IReadOnlyList<Decentralized.Protocol.Tcp.LinkShape?> links, SwarmView view) : IAsyncDisposable
{
    private readonly List<(Process Process, string Dir, Task Reader)> _peers = new();

    /// <summary>Each peer's <c>--misbehave</c> mode (testing the defences), null for an honest one.</summary>
    public IReadOnlyList<string?> Misbehave { get; init; } = [];

    public async Task StartAsync(int count, CancellationToken ct)
    {
        string? bootstrap = null;
        for (int i = 0; i < count; i++)
        {
            var dir = Path.Combine(root, $"peer{i}");
            Directory.CreateDirectory(dir);
            var args = new List<string>(commonArgs) { "--key-file", Path.Combine(dir, "identity.key"), "--data-dir", dir, "--report", Path.Combine(dir, "report.json") };
            if (bootstrap is not null) args.AddRange(new[] { "--bootstrap", bootstrap });
            if (i < links.Count && links[i] is { } link) args.AddRange(["--link", link.ToString()]);
            if (i < Misbehave.Count && Misbehave[i] is { } mode) args.AddRange(["--misbehave", mode]);
            // N peers on one machine split the corpus as train's N replicas do (peer i trains on shard i of N), unless the
            // node arguments choose shards: with node run's default (a shard of 64 picked by peer id) four peers would
            // see only 4/64 of the corpus, over and over.
            if (!commonArgs.Any(a => a.StartsWith("--shard-", StringComparison.Ordinal)))
                args.AddRange(["--shard-index", i.ToString(System.Globalization.CultureInfo.InvariantCulture), "--shard-count", count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = Start(args, Path.Combine(dir, "node.log"));
            var reader = FollowAsync(i, process, listening);
            _peers.Add((process, dir, reader));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            var address = await listening.Task.WaitAsync(timeout.Token);
            bootstrap ??= address;
            view.Started(i, address);
        }
    }

    /// <summary>Waits for every peer to exit (or for Ctrl-C, which stops them) and collects their reports.</summary>
    public async Task<IReadOnlyList<JsonObject>> WaitAsync(CancellationToken ct)
    {
        try { await view.ShowWhileAsync(Task.WhenAll(_peers.Select(p => p.Process.WaitForExitAsync(ct)))); }
        catch (OperationCanceledException) { await StopAsync(); }
        var results = new List<JsonObject>();
        foreach (var (_, dir, _) in _peers)
        {
            var report = Path.Combine(dir, "report.json");
            if (File.Exists(report) && JsonNode.Parse(File.ReadAllText(report)) is JsonObject node) results.Add(node);
        }
        return results;
    }

    private Process Start(IReadOnlyList<string> args, string logPath)
    {
        var dll = typeof(LocalSwarm).Assembly.Location;
        var host = Environment.ProcessPath ?? "dotnet";
        bool viaDotnet = Path.GetFileNameWithoutExtension(host) == "dotnet";
        var info = new ProcessStartInfo(viaDotnet ? host : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("node");
        info.ArgumentList.Add("run");
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new IOException("could not start a node process");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        _ = Task.Run(async () => { using (log) await process.StandardError.BaseStream.CopyToAsync(log.BaseStream); });
        return process;
    }

    private Task FollowAsync(int index, Process process, TaskCompletionSource<string> listening) => Task.Run(async () =>
    {
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            JsonNode? e;
            try { e = JsonNode.Parse(line); } catch (JsonException) { continue; }
            if (e?["event"]?.GetValue<string>() == "listening") listening.TrySetResult(e["addrs"]![0]!.GetValue<string>());
            if (e is not null) view.Event(index, e);
        }
        view.Exited(index);
        var log = Path.Combine(root, $"peer{index}", "node.log");
        await Task.Delay(200);   // the log copy finishes after stdout closes
        string? cause = File.Exists(log) ? File.ReadLines(log).LastOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal)) : null;
        listening.TrySetException(new IOException($"peer{index} exited before listening ({cause ?? "no error line"}); its log: {log}"));
    });

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>SIGTERM lets each daemon finish its step and save; stragglers are killed after 30 s.</summary>
    public async Task StopAsync()
    {
        foreach (var (p, _, _) in _peers)
            if (!p.HasExited) { if (OperatingSystem.IsWindows()) p.Kill(); else Kill(p.Id, 15); }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var (p, _, _) in _peers)
        {
            try { await p.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { p.Kill(entireProcessTree: true); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var (p, _, reader) in _peers) { await reader; p.Dispose(); }
    }
}
