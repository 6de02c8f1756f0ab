using System.Runtime.InteropServices;

namespace Decentralized.Node.Runtime;

/// <summary>
/// Keeps glibc's malloc from hoarding memory in a long-running daemon. libtorch allocates its tensors with malloc
/// from whichever thread-pool thread runs a step or a round; glibc gives each such thread its own arena (up to 8 per
/// core) and keeps the freed space of every arena mapped. A 45-minute soak run showed it: resident memory grew by
/// about 2 MiB per round while live tensors, the managed heap and handles stayed flat; with two arenas it stayed
/// flat. So the daemon caps the arenas at start and hands free pages back to the OS after every round. Both calls
/// are glibc-only and quietly do nothing elsewhere (musl, macOS, Windows).
/// </summary>
public static partial class NativeHeap
{
    private const int ArenaMaxOption = -8;   // M_ARENA_MAX in glibc's malloc.h
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Caps malloc's arenas (call before the threads that train are busy; arenas created earlier stay).</summary>
    public static void LimitArenas(int arenas)
    {
        if (_unavailable) return;
        try { mallopt(ArenaMaxOption, arenas); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    /// <summary>Returns free heap pages of every arena to the OS. Costs a walk over the arenas (well under a millisecond here).</summary>
    public static void Trim()
    {
        if (_unavailable) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int option, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);
}
