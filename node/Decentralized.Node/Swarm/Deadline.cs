namespace Decentralized.Node.Swarm;

/// <summary>
/// A cancellation token that fires when the caller's token does or after <c>after</c> on the swarm's
/// <see cref="TimeProvider"/>. <c>CancelAfter</c> always uses the machine clock; this keeps every timeout of the swarm
/// logic on the provider, so the simulator's virtual clock drives the same deadlines as the daemon's real one.
/// </summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;

    public Deadline(TimeProvider time, TimeSpan after, CancellationToken ct)
    {
        _timer = new CancellationTokenSource(after, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timer.Token);
    }

    public CancellationToken Token => _linked.Token;

    public void Dispose()
    {
        _linked.Dispose();
        _timer.Dispose();
    }
}
