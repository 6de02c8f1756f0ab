namespace Decentralized.Cli;

/// <summary>
/// The training loss curve the status page draws, in bounded memory for a run of any length: every step is kept
/// until <see cref="PointsMax"/> points, then every other point is dropped and the stride doubles, so the curve
/// always spans the whole run at a resolution of PointsMax/2 to PointsMax points.
/// </summary>
public sealed class LossHistory
{
    public const int PointsMax = 512;

    private readonly List<(long Step, double Loss)> _points = new();
    private long _stride = 1;

    public void Add(long step, double loss)
    {
        if (!double.IsFinite(loss)) return;
        lock (_points)
        {
            if (step % _stride != 0) return;
            _points.Add((step, loss));
            while (_points.Count >= PointsMax)
            {
                _stride *= 2;
                _points.RemoveAll(p => p.Step % _stride != 0);
            }
        }
    }

    public (long Step, double Loss)[] Points()
    {
        lock (_points) return _points.ToArray();
    }
}
