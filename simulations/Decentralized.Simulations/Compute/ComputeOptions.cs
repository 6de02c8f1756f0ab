using System.Globalization;

namespace Decentralized.Simulations.Compute;

/// <summary>
/// Per-peer compute speed. A peer draws a GPU class once (by <see cref="GpuClass.Share"/>); each inner step then
/// takes <see cref="ReferenceStepTime"/> / speed × a log-normal factor with spread <see cref="StepTimeJitter"/>
/// (kernel timing noise, data loading, thermal throttling).
/// </summary>
public sealed record ComputeOptions
{
    /// <summary>All peers on the reference GPU.</summary>
    public static IReadOnlyList<GpuClass> Homogeneous { get; } = [new GpuClass("reference", 1.0, 1.0)];

    /// <summary>A mix of consumer and data-centre GPUs as volunteers bring them (speeds relative to an H100).</summary>
    public static IReadOnlyList<GpuClass> VolunteerMix { get; } =
    [
        new GpuClass("H100", 1.0, 0.25),
        new GpuClass("A100", 0.6, 0.25),
        new GpuClass("RTX4090", 0.45, 0.3),
        new GpuClass("RTX3090", 0.3, 0.2),
    ];

    /// <summary>Virtual time of one inner step on the reference GPU. Set it from a measured step of the represented model.</summary>
    public TimeSpan ReferenceStepTime { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Standard deviation of the log of the per-step time factor (0: every step takes the same time).</summary>
    public double StepTimeJitter { get; init; } = 0.05;

    /// <summary>The GPU classes peers draw from.</summary>
    public IReadOnlyList<GpuClass> Gpus { get; init; } = Homogeneous;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public ComputeOptions Validate()
    {
        if (ReferenceStepTime <= TimeSpan.Zero || ReferenceStepTime > TimeSpan.FromHours(1)) throw new ArgumentException("reference step time must be between 0 and 1 hour");
        if (StepTimeJitter is < 0 or > 2) throw new ArgumentException("step time jitter must be in [0, 2]");
        if (Gpus.Count == 0) throw new ArgumentException("at least one GPU class is needed");
        foreach (var g in Gpus)
            if (!(g.RelativeSpeed > 0) || !(g.Share > 0) || !double.IsFinite(g.RelativeSpeed) || !double.IsFinite(g.Share))
                throw new ArgumentException($"GPU class {g.Name} needs a positive speed and share");
        return this;
    }

    /// <summary>The knobs as name/value pairs, for the run header.</summary>
    public IEnumerable<(string Name, string Value)> Describe()
    {
        yield return ("reference_step_ms", ReferenceStepTime.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture));
        yield return ("step_time_jitter", StepTimeJitter.ToString("0.###", CultureInfo.InvariantCulture));
        yield return ("gpus", string.Join(" ", Gpus.Select(g => FormattableString.Invariant($"{g.Name}:{g.RelativeSpeed:0.###}x@{g.Share:0.###}"))));
    }
}
