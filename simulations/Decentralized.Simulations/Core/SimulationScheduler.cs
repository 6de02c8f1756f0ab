using System.Diagnostics;

namespace Decentralized.Simulations.Core;

/// <summary>
/// The discrete-event loop every simulated component runs on: one thread, one queue ordered by
/// (virtual time, sequence number), so two runs from the same seed execute the same events in the same order.
/// Events carry the <see cref="SimulatedHost"/> they belong to; a crashed host's events are dropped, which is
/// how a crash stops a peer's code mid-flight. Virtual time only moves when the loop takes the next event:
/// compute that runs inside an event (a TorchSharp step) takes no virtual time at all.
/// </summary>
public sealed class SimulationScheduler
{
    private readonly PriorityQueue<ScheduledEvent, (long Ticks, long Sequence)> _queue = new();
    private readonly object _gate = new();
    private long _sequence;
    private int _ownerThread = -1;
    private Exception? _failure;

    /// <summary>Virtual time since the start of the run.</summary>
    public TimeSpan Now { get; private set; }

    /// <summary>Events executed so far.</summary>
    public long EventsExecuted { get; private set; }

    /// <summary>Events still queued.</summary>
    public int Pending
    {
        get { lock (_gate) return _queue.Count; }
    }

    /// <summary>
    /// Work that reached the scheduler from another thread (a continuation that escaped to the thread pool).
    /// Non-zero means some simulated code used an API that bypasses the virtual clock; the run may not replay.
    /// </summary>
    public long ForeignThreadPosts { get; private set; }

    /// <summary>Where the first foreign-thread post came from (for the error message), or null.</summary>
    public string? FirstForeignPost { get; private set; }

    /// <summary>Queues <paramref name="action"/> at <see cref="Now"/> + <paramref name="delay"/> for <paramref name="host"/>.</summary>
    public void Schedule(TimeSpan delay, SimulatedHost? host, Action action)
    {
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        ScheduleAt(Now + delay, host, action);
    }

    /// <summary>Queues <paramref name="action"/> at absolute virtual time <paramref name="at"/> (clamped to now).</summary>
    public void ScheduleAt(TimeSpan at, SimulatedHost? host, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (_gate)
        {
            if (_ownerThread != -1 && Environment.CurrentManagedThreadId != _ownerThread && ForeignThreadPosts++ == 0)
                FirstForeignPost = Environment.StackTrace;
            if (at < Now) at = Now;
            _queue.Enqueue(new ScheduledEvent(host, action), (at.Ticks, _sequence++));
        }
    }

    /// <summary>
    /// Runs events up to virtual time <paramref name="until"/>; afterwards <see cref="Now"/> is <paramref name="until"/>
    /// (unless the queue drained first and <paramref name="until"/> is <see cref="TimeSpan.MaxValue"/>). Returns true if the queue drained.
    /// </summary>
    public bool RunUntil(TimeSpan until)
    {
        OnDefaultTaskScheduler(() =>
        {
            while (StepOne(until))
            {
            }
        });
        bool drained = Pending == 0;
        if (until != TimeSpan.MaxValue && until > Now) Now = until;
        return drained;
    }

    /// <summary>Runs until nothing is left to do.</summary>
    public void RunUntilIdle() => RunUntil(TimeSpan.MaxValue);

    /// <summary>
    /// Pumps the loop until <paramref name="task"/> completes (or <paramref name="limit"/> of virtual time passes),
    /// then returns its result. Throws if the loop drains first: the simulated system deadlocked.
    /// </summary>
    public T RunUntilComplete<T>(Task<T> task, TimeSpan? limit = null)
    {
        RunUntilCompleteCore(task, limit);
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Pumps the loop until <paramref name="task"/> completes; see <see cref="RunUntilComplete{T}"/>.</summary>
    public void RunUntilComplete(Task task, TimeSpan? limit = null)
    {
        RunUntilCompleteCore(task, limit);
        task.GetAwaiter().GetResult();
    }

    private void RunUntilCompleteCore(Task task, TimeSpan? limit)
    {
        var end = limit is { } l ? Now + l : TimeSpan.MaxValue;
        // Stop the loop right when the task finishes rather than draining unrelated future events.
        OnDefaultTaskScheduler(() =>
        {
            while (!task.IsCompleted)
            {
                // Work that arrived from another thread means simulated code escaped the loop: stop loudly, with where.
                if (ForeignThreadPosts > 0)
                    throw new SimulationException($"simulated code ran off the event loop ({ForeignThreadPosts} posts from other threads); the run cannot replay. First from: {FirstForeignPost}");
                if (StepOne(end) || task.IsCompleted) continue;
                throw new SimulationException((Pending == 0
                    ? $"the simulation went idle at {Now} before the awaited task finished (a deadlock in simulated code)"
                    : $"the awaited task did not finish within {limit}")
                    + (ForeignThreadPosts > 0 ? $"; {ForeignThreadPosts} posts came from other threads, first from: {FirstForeignPost}" : ""));
            }
        });
    }

    /// <summary>
    /// Pumps inside a task run inline on <see cref="TaskScheduler.Default"/>: a caller's own TaskScheduler (a test
    /// framework's) would otherwise become TaskScheduler.Current for every event, and continuations that ignore the
    /// synchronization context (ConfigureAwait(false)) would be queued to it, off the loop thread.
    /// </summary>
    private static void OnDefaultTaskScheduler(Action pump)
    {
        var task = new Task(pump);
        task.RunSynchronously(TaskScheduler.Default);
        task.GetAwaiter().GetResult();
    }

    /// <summary>Runs exactly one due event (at or before <paramref name="until"/>); false when there is none.</summary>
    private bool StepOne(TimeSpan until)
    {
        var previousContext = SynchronizationContext.Current;
        _ownerThread = Environment.CurrentManagedThreadId;
        try
        {
            while (true)
            {
                ScheduledEvent next;
                lock (_gate)
                {
                    if (!_queue.TryPeek(out _, out var key) || key.Ticks > until.Ticks) return false;
                    next = _queue.Dequeue();
                    Now = TimeSpan.FromTicks(key.Ticks);
                }
                if (next.Host is { IsAlive: false }) continue;
                Execute(next);
                if (_failure is { } failure)
                {
                    _failure = null;
                    throw new SimulationException($"simulated code failed at {Now}: {failure.Message}", failure);
                }
                return true;
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previousContext);
        }
    }

    private void Execute(ScheduledEvent next)
    {
        EventsExecuted++;
        // No SynchronizationContext: await continuations then run inline in the event that completes their task, on
        // this thread. A custom context would make the runtime send every ConfigureAwait(false) continuation (all of
        // the protocol code's) to the thread pool, since it only inlines where the context is the default one.
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            next.Action();
        }
        catch (Exception e) when (next.Host is not null && next.Host.TryHandleFault(e))
        {
            // The host's fault policy absorbed it (e.g. an exception escaping a handler of a crashed peer).
        }
        catch (Exception e)
        {
            Debug.WriteLine($"simulation event failed: {e}");
            _failure ??= e;
        }
    }

    private readonly record struct ScheduledEvent(SimulatedHost? Host, Action Action);
}
