using System.Diagnostics;
using System.Text.Json;

namespace Decentralized.Protocol.Tests.Interop;

/// <summary>One <c>node peer.mjs</c> process; its stdout JSON lines are parsed and queued as they arrive.</summary>
internal sealed class JsPeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Threading.Channels.Channel<JsonElement> _events = System.Threading.Channels.Channel.CreateUnbounded<JsonElement>();
    private readonly List<string> _stderr = [];
    private readonly Task _pump;

    private JsPeer(Process process)
    {
        _process = process;
        _pump = PumpAsync();
        _ = Task.Run(async () =>
        {
            string? line;
            while ((line = await _process.StandardError.ReadLineAsync()) is not null)
            {
                lock (_stderr)
                {
                    _stderr.Add(line);
                }
            }
        });
    }

    public string Stderr
    {
        get { lock (_stderr) { return string.Join('\n', _stderr.TakeLast(20)); } }
    }

    public static JsPeer Start(params string[] args)
    {
        var info = new ProcessStartInfo("node", [Path.Combine(InteropEnvironment.InteropDirectory, "peer.mjs"), .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return new JsPeer(Process.Start(info) ?? throw new InvalidOperationException("could not start node"));
    }

    /// <summary>Waits for the next event named <paramref name="name"/> (earlier other events are skipped).</summary>
    public async Task<JsonElement> WaitForEventAsync(string name, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(cts.Token))
            {
                var kind = e.GetProperty("event").GetString();
                if (kind == name)
                {
                    return e;
                }
                if (kind == "error")
                {
                    throw new InvalidOperationException($"js peer error: {e.GetProperty("message").GetString()}\n{Stderr}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"js peer sent no '{name}' within {timeout}\n{Stderr}");
        }
        throw new InvalidOperationException($"js peer exited (code {ExitCodeOrNull()}) before '{name}'\n{Stderr}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _pump;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the listener exits when stdin closes
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }

    private int? ExitCodeOrNull() => _process.HasExited ? _process.ExitCode : null;

    private async Task PumpAsync()
    {
        string? line;
        while ((line = await _process.StandardOutput.ReadLineAsync()) is not null)
        {
            if (line.StartsWith('{'))
            {
                _events.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
            }
        }
        _events.Writer.TryComplete();
    }
}
