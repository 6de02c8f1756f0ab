using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>CPU time of the calling thread with nanosecond resolution on Linux
/// (clock_gettime(CLOCK_THREAD_CPUTIME_ID)); elsewhere the process's CPU time, which is coarser.</summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    public static double NowSeconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out TimeSpec time) == 0)
        {
            return time.Seconds + time.Nanoseconds * 1e-9;
        }

        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
