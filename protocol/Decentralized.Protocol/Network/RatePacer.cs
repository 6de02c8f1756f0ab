namespace Decentralized.Protocol.Network;

/// <summary>
/// Holds bytes to a rate, like a pipe of fixed capacity: each call reserves the next free slot of the pipe (virtual
/// scheduling, so no burst beyond one slice and no drift however the calls interleave). One pacer serves every stream
/// that shares the capacity: a donor's state uploads to all its joiners, or a shaped link's uplink or downlink over all
/// of a host's connections. Runs on a <see cref="TimeProvider"/>, so the simulator and tests pace on their own clock.
/// A rate of 0 means unlimited.
/// </summary>
public sealed class RatePacer(TimeProvider time, long bytesPerSecond)
{
    /// <summary>Writes are cut into slices of at most this size so a large chunk is paced smoothly, not sent then waited for.</summary>
    public const int SliceBytes = 64 << 10;

    private readonly object _lock = new();
    private long _pipeFreeAt;   // timestamp at which everything reserved so far has left

    /// <summary>The rate in bytes per second (0: unlimited).</summary>
    public long BytesPerSecond => bytesPerSecond;

    public bool Unlimited => bytesPerSecond <= 0;

    /// <summary>The time <paramref name="bytes"/> take at the rate (zero when unlimited).</summary>
    public TimeSpan Duration(long bytes) => Unlimited ? TimeSpan.Zero : TimeSpan.FromSeconds((double)bytes / bytesPerSecond);

    /// <summary>
    /// Reserves the pipe for <paramref name="bytes"/> after everything reserved before; returns how long from now until
    /// their first byte enters the pipe and until their last byte has left it.
    /// </summary>
    public (TimeSpan UntilStart, TimeSpan UntilEnd) Reserve(long bytes)
    {
        if (Unlimited) return (TimeSpan.Zero, TimeSpan.Zero);
        lock (_lock)
        {
            long now = time.GetTimestamp();
            long start = Math.Max(now, _pipeFreeAt);
            _pipeFreeAt = start + (long)((double)bytes * time.TimestampFrequency / bytesPerSecond);
            return (time.GetElapsedTime(now, start), time.GetElapsedTime(now, _pipeFreeAt));
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> may start to leave without exceeding the rate.</summary>
    public Task WaitAsync(int bytes, CancellationToken ct)
    {
        var wait = Reserve(bytes).UntilStart;
        return wait > TimeSpan.Zero ? Task.Delay(wait, time, ct) : Task.CompletedTask;
    }

    /// <summary>Waits until <paramref name="bytes"/> have left the pipe: a transfer of N bytes takes N / rate.</summary>
    public Task WaitSentAsync(int bytes, CancellationToken ct)
    {
        var wait = Reserve(bytes).UntilEnd;
        return wait > TimeSpan.Zero ? Task.Delay(wait, time, ct) : Task.CompletedTask;
    }
}
