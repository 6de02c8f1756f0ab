namespace Decentralized.Simulations.Core;

/// <summary>
/// One simulated process (a peer's daemon). Its timers and the network deliveries to it are events tagged with it,
/// so <see cref="Crash"/> stops its code at once, as a killed process would, while the rest of the simulation carries
/// on. Each host has its own <see cref="TimeProvider"/>, which the code under test receives like the real one. Async
/// continuations run inline in the event that completed the awaited task, so a host's code runs inside its own
/// events, except where one host's code completes a task that another host awaits directly (not over the network).
/// </summary>
public sealed class SimulatedHost
{
    /// <summary>Creates a live host on <paramref name="scheduler"/>.</summary>
    public SimulatedHost(SimulationScheduler scheduler, string name)
    {
        Scheduler = scheduler;
        Name = name;
        Time = new VirtualTimeProvider(scheduler, this);
    }

    /// <summary>The loop this host runs on.</summary>
    public SimulationScheduler Scheduler { get; }

    /// <summary>A label for logs.</summary>
    public string Name { get; }

    /// <summary>False after <see cref="Crash"/>: the host's queued events are dropped.</summary>
    public bool IsAlive { get; private set; } = true;

    /// <summary>The host's clock and timers (virtual time).</summary>
    public TimeProvider Time { get; }

    /// <summary>Decides whether an exception thrown by one of this host's events is absorbed (true) or fails the run.</summary>
    public Func<Exception, bool>? FaultPolicy { get; set; }

    /// <summary>Exceptions absorbed by <see cref="FaultPolicy"/>.</summary>
    public int FaultsAbsorbed { get; private set; }

    /// <summary>Raised once when the host crashes (the network resets its connections).</summary>
    public event Action<SimulatedHost>? Crashed;

    /// <summary>Stops the host: none of its queued or future events run.</summary>
    public void Crash()
    {
        if (!IsAlive) return;
        IsAlive = false;
        Crashed?.Invoke(this);
    }

    /// <summary>Queues <paramref name="action"/> on this host after <paramref name="delay"/>.</summary>
    public void Schedule(TimeSpan delay, Action action) => Scheduler.Schedule(delay, this, action);

    /// <summary>
    /// Starts <paramref name="body"/> as this host's code (its first part runs in a new event, on this host's
    /// context) and returns its task.
    /// </summary>
    public Task Start(Func<Task> body)
    {
        var done = new TaskCompletionSource();
        Schedule(TimeSpan.Zero, () =>
        {
            Task inner;
            try { inner = body(); }
            catch (Exception e) { done.TrySetException(e); return; }
            inner.ContinueWith(t =>
            {
                if (t.IsFaulted) done.TrySetException(t.Exception!.InnerExceptions);
                else if (t.IsCanceled) done.TrySetCanceled();
                else done.TrySetResult();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        });
        return done.Task;
    }

    internal bool TryHandleFault(Exception e)
    {
        if (FaultPolicy is null || !FaultPolicy(e)) return false;
        FaultsAbsorbed++;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
