namespace Decentralized.Simulations.Core;

/// <summary>
/// A <see cref="TimeProvider"/> over the scheduler's virtual clock. Timers (and therefore
/// <c>Task.Delay(d, provider)</c> and <c>new CancellationTokenSource(d, provider)</c>) fire as events of the owning host.
/// The wall clock starts at a fixed epoch so that logs and files are identical between runs.
/// </summary>
public sealed class VirtualTimeProvider : TimeProvider
{
    /// <summary>The virtual UTC instant of time zero.</summary>
    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly SimulationScheduler _scheduler;
    private readonly SimulatedHost? _host;

    /// <summary>A clock whose timers belong to <paramref name="host"/> (null: to no host; they survive crashes).</summary>
    public VirtualTimeProvider(SimulationScheduler scheduler, SimulatedHost? host = null)
    {
        _scheduler = scheduler;
        _host = host;
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Epoch + _scheduler.Now;

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => _scheduler.Now.Ticks;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(_scheduler, _host, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>A timer on the virtual clock; each Change invalidates the previously scheduled firing.</summary>
    private sealed class VirtualTimer(SimulationScheduler scheduler, SimulatedHost? host, TimerCallback callback, object? state) : ITimer
    {
        private long _generation;
        private TimeSpan _period = Timeout.InfiniteTimeSpan;
        private bool _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (_disposed) return false;
            long generation = ++_generation;
            _period = period;
            if (dueTime == Timeout.InfiniteTimeSpan) return true;
            if (dueTime < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(dueTime));
            Arm(dueTime, generation);
            return true;
        }

        private void Arm(TimeSpan delay, long generation) => scheduler.Schedule(delay, host, () =>
        {
            if (_disposed || generation != _generation) return;
            // Re-arm before the callback so a callback that calls Change wins.
            if (_period != Timeout.InfiniteTimeSpan && _period > TimeSpan.Zero) Arm(_period, generation);
            callback(state);
        });

        public void Dispose()
        {
            _disposed = true;
            _generation++;
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
