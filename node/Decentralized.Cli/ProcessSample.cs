using System.Diagnostics;

namespace Decentralized.Cli;

/// <summary>
/// What a long run watches for leaks: resident memory, the managed heap, live TorchSharp tensors and open file
/// handles (sockets included). Read on demand by /status and /metrics; costs one directory listing of /proc/self/fd.
/// </summary>
/// <param name="ResidentBytes">Resident set size (what the OS would kill us for).</param>
/// <param name="ManagedHeapBytes">GC.GetTotalMemory(false): bytes the managed heap believes are in use.</param>
/// <param name="GcCommittedBytes">Memory the GC has committed from the OS (its heap plus free space it keeps); RSS
/// minus this is native memory (TorchSharp/libtorch, sockets, the runtime itself).</param>
/// <param name="LiveTensors">TorchSharp tensors created and not yet disposed or finalized (Tensor.TotalCount).</param>
/// <param name="OpenFiles">Entries in /proc/self/fd (files, sockets, pipes); -1 where /proc is missing.</param>
/// <param name="Threads">Threads of this process.</param>
public sealed record ProcessSample(long ResidentBytes, long ManagedHeapBytes, long GcCommittedBytes, long LiveTensors, int OpenFiles, int Threads)
{
    public static ProcessSample Read()
    {
        using var self = Process.GetCurrentProcess();
        int files;
        try { files = Directory.GetFileSystemEntries("/proc/self/fd").Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { files = -1; }
        return new ProcessSample(self.WorkingSet64, GC.GetTotalMemory(forceFullCollection: false), GC.GetGCMemoryInfo().TotalCommittedBytes, TorchSharp.torch.Tensor.TotalCount, files, self.Threads.Count);
    }
}
