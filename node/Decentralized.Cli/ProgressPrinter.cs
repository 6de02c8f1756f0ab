using System.Diagnostics;

namespace Decentralized.Cli;

/// <summary>A progress line for people at most every few seconds: step, loss, tokens/s, bytes, ETA.</summary>
public sealed class ProgressPrinter(long totalSteps, long tokensPerStep, Action<string> log)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastPrint = TimeSpan.FromSeconds(-10);
    private long _firstStep = -1;

    public void Step(long step, double loss, long bytesSent)
    {
        if (_firstStep < 0) _firstStep = step - 1;
        var now = _clock.Elapsed;
        if (now - _lastPrint < TimeSpan.FromSeconds(5) && step != totalSteps) return;
        _lastPrint = now;
        double perStep = now.TotalSeconds / Math.Max(1, step - _firstStep);
        var eta = TimeSpan.FromSeconds(perStep * (totalSteps - step));
        log($"step {step}/{totalSteps}  loss {loss:F4}  {tokensPerStep / perStep:N0} tok/s  sent {Units.Bytes(bytesSent)}  eta {Units.Duration(eta)}");
    }
}
