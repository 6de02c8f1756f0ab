namespace Decentralized.Node.Rounds;

/// <summary>
/// How every networked caller waits for a round engine's due exchanges: tick on each arrival and at the engine's next
/// deadline, never polling a mailbox. Between those it also wakes once per <c>heartbeat</c>, because a partner leaving
/// (which closes an exchange early) is learned from liveness, not signalled.
/// </summary>
public static class RoundWait
{
    /// <param name="tick">Ticks the engine (under the caller's lock) and returns where the exchanges stand.</param>
    /// <param name="arrival">The caller's current arrival signal, read before each tick so no arrival is missed.</param>
    public static async Task UntilReadyAsync(Func<TickResult> tick, Func<Task> arrival, TimeSpan heartbeat, TimeProvider time, CancellationToken ct)
    {
        while (true)
        {
            var arrived = arrival();
            var result = tick();
            if (result.Ready) return;
            var left = result.Wake is { } wake && wake < heartbeat ? wake : heartbeat;
            // Whole milliseconds, at least one: Task.Delay truncates to milliseconds, and a sub-millisecond rest of the
            // deadline would complete at once and spin this loop (forever on a virtual clock that only moves between events).
            var nap = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(left.TotalMilliseconds)));
            using var napping = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await Task.WhenAny(arrived, Task.Delay(nap, time, napping.Token));
            napping.Cancel();
            ct.ThrowIfCancellationRequested();
        }
    }
}
