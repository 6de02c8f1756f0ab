namespace Decentralized.Node.Swarm;

/// <summary>
/// Holds a donor's state uploads to a byte rate shared by every joiner it serves, so a peer on a home uplink keeps
/// bandwidth for its own rounds while it helps others join. Each call reserves the next free slot of the "pipe" and
/// waits until it starts (virtual scheduling: no burst beyond one slice). Runs on the swarm's <see cref="TimeProvider"/>,
/// so the simulator paces on its virtual clock. A rate of 0 means unlimited.
/// </summary>
internal sealed class UploadPacer(TimeProvider time, long bytesPerSecond)
{
    /// <summary>Writes are cut into slices of this size so a large chunk is paced smoothly, not sent then waited for.</summary>
    public const int SliceBytes = 64 << 10;

    private readonly object _lock = new();
    private long _pipeFreeAt;   // timestamp at which everything reserved so far has left

    public bool Unlimited => bytesPerSecond <= 0;

    /// <summary>The time <paramref name="bytes"/> take at the rate (zero when unlimited).</summary>
    public TimeSpan Duration(long bytes) => Unlimited ? TimeSpan.Zero : TimeSpan.FromSeconds((double)bytes / bytesPerSecond);

    /// <summary>Waits until <paramref name="bytes"/> may leave without exceeding the rate.</summary>
    public Task WaitAsync(int bytes, CancellationToken ct)
    {
        if (Unlimited) return Task.CompletedTask;
        TimeSpan wait;
        lock (_lock)
        {
            long now = time.GetTimestamp();
            long start = Math.Max(now, _pipeFreeAt);
            _pipeFreeAt = start + (long)((double)bytes * time.TimestampFrequency / bytesPerSecond);
            wait = time.GetElapsedTime(now, start);
        }
        return wait > TimeSpan.Zero ? Task.Delay(wait, time, ct) : Task.CompletedTask;
    }
}
