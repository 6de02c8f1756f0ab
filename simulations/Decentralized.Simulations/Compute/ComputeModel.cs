using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Compute;

/// <summary>One peer's compute: its GPU class and the virtual time each inner step takes.</summary>
public sealed class ComputeModel
{
    private readonly ComputeOptions _options;
    private readonly DeterministicRandom _random;

    /// <summary>Draws the peer's GPU from <paramref name="options"/> using <paramref name="random"/> (the peer's own stream).</summary>
    public ComputeModel(ComputeOptions options, DeterministicRandom random)
    {
        _options = options.Validate();
        _random = random;
        double total = options.Gpus.Sum(g => g.Share), pick = random.NextDouble() * total;
        Gpu = options.Gpus[^1];
        foreach (var g in options.Gpus)
        {
            if (pick < g.Share) { Gpu = g; break; }
            pick -= g.Share;
        }
    }

    /// <summary>Creates a model with a fixed GPU class (tests and explicit mixes).</summary>
    public ComputeModel(ComputeOptions options, DeterministicRandom random, GpuClass gpu)
    {
        _options = options.Validate();
        _random = random;
        Gpu = gpu;
    }

    /// <summary>This peer's GPU.</summary>
    public GpuClass Gpu { get; }

    /// <summary>Mean step time of this peer (without jitter).</summary>
    public TimeSpan MeanStepTime => _options.ReferenceStepTime / Gpu.RelativeSpeed;

    /// <summary>The virtual duration of the next inner step.</summary>
    public TimeSpan NextStepTime()
    {
        double factor = _options.StepTimeJitter > 0 ? Math.Exp(_options.StepTimeJitter * _random.NextGaussian()) : 1.0;
        return TimeSpan.FromTicks(Math.Max(1, (long)(MeanStepTime.Ticks * factor)));
    }
}
