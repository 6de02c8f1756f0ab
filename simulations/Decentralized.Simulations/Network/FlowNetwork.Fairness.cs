namespace Decentralized.Simulations.Network;

public sealed partial class FlowNetwork
{
    // Scratch per node, reused by every reallocation: remaining capacity and unfrozen flow count of each link.
    private double[] _upLeft = Array.Empty<double>(), _downLeft = Array.Empty<double>();
    private int[] _upCount = Array.Empty<int>(), _downCount = Array.Empty<int>();

    /// <summary>Flows in transmission right now.</summary>
    public int ActiveTransfers => _active.Count;

    /// <summary>Moves every flow forward by its rate over the time since the last update.</summary>
    private void AdvanceProgress()
    {
        var now = _scheduler.Now;
        double dt = (now - _lastAdvance).TotalSeconds;
        _lastAdvance = now;
        if (dt <= 0) return;
        foreach (var flow in _active) flow.Remaining = Math.Max(0, flow.Remaining - flow.Rate * dt);
    }

    /// <summary>All starts and ends at one instant share one reallocation (a ring step starts N transfers at once).</summary>
    private void QueueReallocation()
    {
        if (_reallocationQueued) return;
        _reallocationQueued = true;
        _scheduler.Schedule(TimeSpan.Zero, null, Reallocate);
    }

    private void Reallocate()
    {
        _reallocationQueued = false;
        AdvanceProgress();
        CompleteFinished();
        AllocateMaxMin();
        ScheduleNextCompletion();
    }

    /// <summary>Flows whose last byte is out: hand them to propagation. Sub-byte residue counts as done.</summary>
    private void CompleteFinished()
    {
        for (int i = 0; i < _active.Count; i++)
        {
            var flow = _active[i];
            if (flow.Remaining > 1e-3) continue;
            _active.RemoveAt(i--);
            Transmitted(flow.Message);
        }
    }

    /// <summary>
    /// Progressive filling: raise all unfrozen flows' rates together until a link saturates (its flows freeze at
    /// that level) or a flow reaches its own cap; repeat with what is left. The result is max-min fair.
    /// </summary>
    private void AllocateMaxMin()
    {
        int n = _nodes.Count;
        if (_upLeft.Length < n)
        {
            _upLeft = new double[n]; _downLeft = new double[n];
            _upCount = new int[n]; _downCount = new int[n];
        }
        foreach (var flow in _active)
        {
            int s = flow.Message.From, d = flow.Message.To;
            _upLeft[s] = _nodes[s].UpBytesPerSecond; _upCount[s] = 0;
            _downLeft[d] = _nodes[d].DownBytesPerSecond; _downCount[d] = 0;
            flow.Rate = -1;   // unfrozen
        }
        foreach (var flow in _active) { _upCount[flow.Message.From]++; _downCount[flow.Message.To]++; }
        int unfrozen = _active.Count;
        double level = 0;
        while (unfrozen > 0)
        {
            double step = double.PositiveInfinity;
            foreach (var flow in _active)
            {
                if (flow.Rate >= 0) continue;
                int s = flow.Message.From, d = flow.Message.To;
                step = Math.Min(step, Math.Min(_upLeft[s] / _upCount[s], _downLeft[d] / _downCount[d]));
                step = Math.Min(step, flow.Cap - level);
            }
            step = Math.Max(0, step);
            level += step;
            // Charge the links, then freeze flows at saturated links or at their caps.
            foreach (var flow in _active)
            {
                if (flow.Rate >= 0) continue;
                _upLeft[flow.Message.From] -= step;
                _downLeft[flow.Message.To] -= step;
            }
            foreach (var flow in _active)
            {
                if (flow.Rate >= 0) continue;
                int s = flow.Message.From, d = flow.Message.To;
                bool saturated = _upLeft[s] <= _nodes[s].UpBytesPerSecond * 1e-12 || _downLeft[d] <= _nodes[d].DownBytesPerSecond * 1e-12;
                if (!saturated && flow.Cap - level > 1e-9) continue;
                flow.Rate = level;
                _upCount[s]--; _downCount[d]--;
                unfrozen--;
            }
        }
    }

    private void ScheduleNextCompletion()
    {
        long generation = ++_completionGeneration;
        if (_active.Count == 0) return;
        double soonest = double.PositiveInfinity;
        foreach (var flow in _active)
            if (flow.Rate > 0) soonest = Math.Min(soonest, flow.Remaining / flow.Rate);
        if (double.IsPositiveInfinity(soonest)) return;
        // Round up to a whole tick so the flow is surely done when the event runs.
        long ticks = Math.Max(1, (long)Math.Ceiling(soonest * TimeSpan.TicksPerSecond));
        _scheduler.Schedule(TimeSpan.FromTicks(ticks), null, () =>
        {
            if (generation != _completionGeneration) return;
            Reallocate();
        });
    }
}
