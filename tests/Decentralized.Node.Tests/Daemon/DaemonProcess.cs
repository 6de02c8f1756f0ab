using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Decentralized.Node.Tests.Daemon;

/// <summary>A real `decentralized node run` process on loopback, with its JSON events and its log, for tests.</summary>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<JsonNode> _events = new();
    private readonly StringBuilder _log = new();
    private readonly List<JsonNode> _seen = new();

    /// <param name="launcher">Command words run before dotnet (e.g. <c>ip netns exec ns1</c>); none: run directly.</param>
    /// <param name="listen">The --listen address.</param>
    public DaemonProcess(string dir, IEnumerable<string> args, IReadOnlyList<string>? launcher = null, string listen = "/ip4/127.0.0.1/tcp/0")
        : this(dir, new[] { "node", "run", "--listen", listen, "--key-file", Path.Combine(dir, "key"), "--data-dir", dir,
            "--report", Path.Combine(dir, "report.json"), "--threads", "1" }.Concat(args).ToArray(), launcher) { }

    /// <summary>A real `decentralized pipeline run` process on loopback (one tensor thread, its own key in <paramref name="dir"/>).</summary>
    public static DaemonProcess Pipeline(string dir, IEnumerable<string> args) =>
        new(dir, new[] { "pipeline", "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--key-file", Path.Combine(dir, "key"), "--threads", "1" }.Concat(args).ToArray(), null);

    private DaemonProcess(string dir, string[] words, IReadOnlyList<string>? launcher)
    {
        Dir = dir;
        Directory.CreateDirectory(dir);
        var dll = Path.Combine(AppContext.BaseDirectory, "decentralized.dll");
        var info = new ProcessStartInfo(launcher is { Count: > 0 } ? launcher[0] : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (launcher ?? []).Skip(1).Concat(launcher is { Count: > 0 } ? ["dotnet"] : []))
            info.ArgumentList.Add(a);
        foreach (var a in words.Prepend(dll))
            info.ArgumentList.Add(a);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is { } line && TryParse(line) is { } node) _events.Add(node); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Dir { get; }
    public string Log { get { lock (_log) return _log.ToString(); } }
    public bool HasExited => _process.HasExited;

    /// <summary>The last <paramref name="lines"/> lines of the log, for failure messages that show several daemons.</summary>
    public string Tail(int lines)
    {
        var all = Log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
    public int ExitCode => _process.ExitCode;

    /// <summary>The first event (already seen or still to come) satisfying <paramref name="match"/>; fails after the timeout with the log.</summary>
    public JsonNode WaitFor(Func<JsonNode, bool> match, TimeSpan timeout, string what)
    {
        lock (_seen) { var old = _seen.FirstOrDefault(match); if (old is not null) return old; }
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_events.TryTake(out var e, TimeSpan.FromMilliseconds(200)))
            {
                lock (_seen) _seen.Add(e);
                if (match(e)) return e;
            }
            else if (_process.HasExited && _events.Count == 0) break;
        }
        throw new TimeoutException($"{what}: not seen within {timeout.TotalSeconds:F0} s in {Dir}\n{Log}");
    }

    public string Address => WaitFor(e => Is(e, "listening"), TimeSpan.FromMinutes(2), "listening")["addrs"]![0]!.GetValue<string>();

    public JsonNode Round(long round, TimeSpan timeout) =>
        WaitFor(e => Is(e, "round") && e["round"]!.GetValue<long>() >= round, timeout, $"round {round}");

    public static bool Is(JsonNode e, string name) => e["event"]?.GetValue<string>() == name;

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"{Dir} did not exit within {timeout.TotalSeconds:F0} s\n{Log}"); }
        return _process.ExitCode;
    }

    /// <summary>Waits for exit and fails with the process's log unless it exited cleanly.</summary>
    public async Task ExpectCleanExitAsync(TimeSpan timeout)
    {
        int code = await WaitForExitAsync(timeout);
        Assert.True(code == 0, $"{Dir} exited with {code}\n{Log}");
    }

    public JsonNode Report() => JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "report.json")))!;

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Signal(int pid, int signal);

    /// <summary>kill -9: no chance to save anything.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM: finish the step, save, exit.</summary>
    public void Terminate() => Signal(_process.Id, 15);

    /// <summary>SIGSTOP / SIGCONT: the process stops answering without closing its connections (a hung peer).</summary>
    public void Freeze() => Signal(_process.Id, 19);
    public void Thaw() => Signal(_process.Id, 18);

    private static JsonNode? TryParse(string line)
    {
        try { return JsonNode.Parse(line); } catch (Exception) { return null; }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
        _process.Dispose();
    }
}
