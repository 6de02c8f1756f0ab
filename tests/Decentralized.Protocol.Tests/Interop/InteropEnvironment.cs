using System.Diagnostics;

namespace Decentralized.Protocol.Tests.Interop;

/// <summary>
/// Finds the js-libp2p interop peer (scripts/interop) and makes sure it is installed, once per test run.
/// When node, npm or the packages are missing, <see cref="SkipReason"/> says why and the interop tests skip.
/// </summary>
internal static class InteropEnvironment
{
    private static readonly Lazy<(string? Root, string? SkipReason)> State = new(Probe);

    /// <summary>The scripts/interop folder, when usable.</summary>
    public static string InteropDirectory => Path.Combine(State.Value.Root!, "scripts", "interop");

    /// <summary>Null when the js peer can run; otherwise why it cannot.</summary>
    public static string? SkipReason => State.Value.SkipReason;

    private static (string?, string?) Probe()
    {
        var root = FindRepositoryRoot();
        if (root is null)
        {
            return (null, "js interop peer not found: no scripts/interop/peer.mjs above the test binaries");
        }
        var setup = Path.Combine(root, "scripts", "interop", "setup.sh");
        try
        {
            // Cheap when already installed (CI runs it before the tests); installs from the lock file otherwise.
            using var process = Process.Start(new ProcessStartInfo("bash", [setup])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                return (root, "js interop setup timed out after 5 minutes");
            }
            return process.ExitCode == 0
                ? (root, null)
                : (root, $"js interop peer unavailable (setup.sh exit {process.ExitCode}: node/npm missing or npm ci failed): {stderr.Result.Trim()}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (root, $"js interop peer unavailable: cannot run bash ({e.Message})");
        }
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "interop", "peer.mjs")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}

/// <summary>A fact that skips, with the reason, when the js interop peer cannot run here.</summary>
public sealed class InteropFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> from the environment probe.</summary>
    public InteropFactAttribute()
    {
        if (InteropEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
