namespace Decentralized.Tests.Fuzzing;

/// <summary>What one run saw: inputs, accepted, refused by label, and the worst time and allocation of one input.</summary>
public sealed class FuzzReport(string name)
{
    public string Name { get; } = name;
    public long Inputs { get; set; }
    public long Accepted { get; set; }
    public SortedDictionary<string, long> Refused { get; } = new(StringComparer.Ordinal);
    public TimeSpan MaxTime { get; set; }
    public long MaxAllocated { get; set; }
    public TimeSpan Elapsed { get; set; }

    public override string ToString() =>
        $"{Name}: {Inputs} inputs, {Accepted} accepted, refused {string.Join(", ", Refused.Select(r => $"{r.Key}={r.Value}"))}; " +
        $"max {MaxTime.TotalMilliseconds:F2} ms and {MaxAllocated / 1024.0:F0} KiB per input; {Elapsed.TotalSeconds:F1} s";
}
