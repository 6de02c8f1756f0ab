using System.Runtime;

namespace Decentralized.Node.Training;

/// <summary>
/// Runs a burst of TorchSharp calls with the garbage collector held off. TorchSharp turns C# scalars into native
/// Scalar handles whose finalizer can run while the native call that uses them is still in flight if a collection
/// happens mid-call (seen as "Expected false to be true ... toFloat at c10/core/Scalar.h:140" in RmsNorm's
/// <c>add_(eps)</c> under the simulator, and in TorchSharp's own AdamW <c>addcmul_</c> in a daemon 9 minutes into a
/// soak run: the process died). Our hot paths hold their Scalars, but TorchSharp's optimizers and operators create
/// them internally; no collection during a step makes the race impossible. Collections still happen between steps.
/// </summary>
public static class TorchGuard
{
    // Far more than one step of a small model allocates on the managed heap (tensor wrappers, a few flat copies).
    private const long BudgetBytes = 64L << 20;

    public static T Run<T>(Func<T> body)
    {
        bool region = GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && TryStart();
        try
        {
            return body();
        }
        finally
        {
            if (region && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                try { GC.EndNoGCRegion(); }
                catch (InvalidOperationException) { }   // the budget ran out and a collection ended the region early
            }
        }
    }

    public static void Run(Action body) => Run(() => { body(); return 0; });

    private static bool TryStart()
    {
        try { return GC.TryStartNoGCRegion(BudgetBytes); }
        catch (ArgumentOutOfRangeException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
