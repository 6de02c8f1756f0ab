using System.Diagnostics;

namespace Decentralized.Protocol.Benchmarks;

/// <summary>CPU time of this process (all threads, user + kernel) and the machine's load average.</summary>
internal static class ProcessCpu
{
    public static TimeSpan Now()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>"load 1.23 / 2.34 / 3.45 (1/5/15 min)" from /proc/loadavg, or "load unknown" off Linux.</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"load {fields[0]} / {fields[1]} / {fields[2]} (1/5/15 min)";
        }
        catch (IOException)
        {
            return "load unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "load unknown";
        }
    }
}
