using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Decentralized.Soak;

/// <summary>
/// One `decentralized node run` process of the soak: started with --http on an ephemeral port, its JSON events read
/// for the listening line, its log (stderr) kept in its folder. Children inherit the harness's niceness (soak.sh runs
/// it under nice).
/// </summary>
public sealed partial class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<(string Address, string Http)> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NodeProcess(string name, string role, string node, string dir, IEnumerable<string> args)
    {
        Name = name;
        Role = role;
        Directory.CreateDirectory(dir);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { node, "node", "run", "--key-file", Path.Combine(dir, "key"), "--data-dir", dir, "--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0" }.Concat(args))
            info.ArgumentList.Add(a);
        _process = Process.Start(info) ?? throw new IOException($"could not start {name}");
        Pid = _process.Id;
        var log = new StreamWriter(Path.Combine(dir, $"node-{Pid}.log")) { AutoFlush = true };
        _ = Task.Run(async () => { using (log) await _process.StandardError.BaseStream.CopyToAsync(log.BaseStream); });
        _ = Task.Run(async () =>
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                try
                {
                    using var e = JsonDocument.Parse(line);
                    if (e.RootElement.TryGetProperty("event", out var ev) && ev.GetString() == "listening")
                        _listening.TrySetResult((e.RootElement.GetProperty("addrs")[0].GetString()!, e.RootElement.GetProperty("http").GetString()!));
                }
                catch (JsonException) { }
            }
            _listening.TrySetException(new IOException($"{name} exited before listening (exit {(_process.HasExited ? _process.ExitCode : -1)}); see {dir}"));
        });
    }

    public string Name { get; }
    public string Role { get; }
    public int Pid { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Set when the harness stopped it on purpose; any other exit is a failure of the soak.</summary>
    public bool Stopped { get; private set; }

    public string Address { get; private set; } = "";
    public string Http { get; private set; } = "";

    public async Task WaitListeningAsync(TimeSpan timeout)
    {
        (Address, Http) = await _listening.Task.WaitAsync(timeout);
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Signal(int pid, int signal);

    /// <summary>SIGKILL: a crash, no chance to save.</summary>
    public void KillHard() { Stopped = true; _process.Kill(entireProcessTree: true); }

    /// <summary>SIGTERM: the daemon finishes its step, saves and exits.</summary>
    public void Terminate() { Stopped = true; if (!_process.HasExited) Signal(_process.Id, 15); }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
    }

    public void Dispose()
    {
        if (!_process.HasExited) { Stopped = true; _process.Kill(entireProcessTree: true); _process.WaitForExit(); }
        _process.Dispose();
    }
}
