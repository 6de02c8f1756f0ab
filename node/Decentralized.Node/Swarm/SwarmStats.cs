namespace Decentralized.Node.Swarm;

/// <summary>Counters a peer reports in its progress line, status and metrics. Updated from several threads.</summary>
public sealed class SwarmStats
{
    private long _updateBytesSent, _updateBytesReceived, _rejectedUpdates, _roundsCompleted, _stateBytesServed;

    public long UpdateBytesSent => Interlocked.Read(ref _updateBytesSent);
    public long UpdateBytesReceived => Interlocked.Read(ref _updateBytesReceived);
    public long RejectedUpdates => Interlocked.Read(ref _rejectedUpdates);
    public long RoundsCompleted => Interlocked.Read(ref _roundsCompleted);
    public long StateBytesServed => Interlocked.Read(ref _stateBytesServed);

    /// <summary>Training loss of the last inner step.</summary>
    public double LastLoss { get; set; } = double.NaN;

    /// <summary>Validation loss of the last evaluation (NaN until one ran).</summary>
    public double LastValidationLoss { get; set; } = double.NaN;

    /// <summary>Seconds spent waiting for partners in outer rounds (idle time).</summary>
    public double WaitSeconds { get; set; }

    private readonly object _timeLock = new();
    private TimeSpan _innerStepTime, _trainingTime;

    /// <summary>Time spent in inner steps of the outer-round phase (forward, backward, optimizer step), measured around each.</summary>
    public TimeSpan InnerStepTime { get { lock (_timeLock) return _innerStepTime; } }

    /// <summary>Wall time of the outer-round phase so far (from the end of the warm-up to now or to the stop).</summary>
    public TimeSpan TrainingTime { get { lock (_timeLock) return _trainingTime; } }

    /// <summary>
    /// Compute utilisation: time in inner steps / wall time of the training part (NaN before the first step). What the
    /// rest went to: waiting for partners, the outer step, encoding and decoding updates, evaluation.
    /// </summary>
    public double Utilisation
    {
        get { lock (_timeLock) return _trainingTime > TimeSpan.Zero ? _innerStepTime / _trainingTime : double.NaN; }
    }

    /// <summary>Adds <paramref name="elapsed"/> to the training part's wall time, and to the inner-step time when it was one.</summary>
    public void AddTrainingTime(TimeSpan elapsed, bool innerStep)
    {
        lock (_timeLock)
        {
            _trainingTime += elapsed;
            if (innerStep) _innerStepTime += elapsed;
        }
    }

    /// <summary>The peers the current round still waits for (empty between rounds).</summary>
    public IReadOnlyList<string> Awaited { get; set; } = [];

    /// <summary>Peers left out of this member's pairing because they missed rounds in a row (until they answer again).</summary>
    public IReadOnlyList<string> Suspended { get; set; } = [];

    /// <summary>Partners whose updates are scored but not applied (repeated negative scores) until they score positive.</summary>
    public IReadOnlyList<string> Excluded { get; set; } = [];

    /// <summary>What this peer thinks of each partner it verified: mean and last score, negatives in a row.</summary>
    public IReadOnlyList<Rounds.PartnerStanding> Standings { get; set; } = [];

    /// <summary>Real seconds spent scoring partners' updates (the forward passes on the held-out batch), and updates scored.</summary>
    public double ScoringSeconds { get; set; }
    public long UpdatesScored { get; set; }

    public void AddSent(long bytes) => Interlocked.Add(ref _updateBytesSent, bytes);
    public void AddReceived(long bytes) => Interlocked.Add(ref _updateBytesReceived, bytes);
    public void AddRejected() => Interlocked.Increment(ref _rejectedUpdates);
    public void AddRound() => Interlocked.Increment(ref _roundsCompleted);
    public void AddStateServed(long bytes) => Interlocked.Add(ref _stateBytesServed, bytes);
}
