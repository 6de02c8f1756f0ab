namespace Decentralized.Soak;

/// <summary>One row of soak.csv: one process at one moment. NaN where a value could not be read (process busy or gone).</summary>
public sealed record Sample(
    double Seconds, string Process, string Role, int Pid,
    double ResidentBytes, double ManagedHeapBytes, double LiveTensors, double Connections, double OpenFiles, double Round,
    double GcCommittedBytes, double Threads)
{
    public const string Header = "seconds,process,role,pid,rss_bytes,managed_heap_bytes,live_tensors,connections,open_files,round,gc_committed_bytes,threads";

    /// <summary>The series the verdict judges and the chart draws, in CSV order.</summary>
    public static readonly (string Name, string Unit, Func<Sample, double> Value)[] Series =
    [
        ("rss_bytes", "MiB", s => s.ResidentBytes / (1 << 20)),
        ("managed_heap_bytes", "MiB", s => s.ManagedHeapBytes / (1 << 20)),
        ("live_tensors", "tensors", s => s.LiveTensors),
        ("connections", "connections", s => s.Connections),
        ("open_files", "handles", s => s.OpenFiles),
        ("gc_committed_bytes", "MiB", s => s.GcCommittedBytes / (1 << 20)),
        ("threads", "threads", s => s.Threads),
    ];

    public string ToCsv() => string.Join(',', [F(Seconds), Process, Role, Pid.ToString(), F(ResidentBytes), F(ManagedHeapBytes), F(LiveTensors), F(Connections), F(OpenFiles), F(Round), F(GcCommittedBytes), F(Threads)]);

    /// <summary>One CSV row back (empty fields are NaN); for --judge.</summary>
    public static Sample Parse(string line)
    {
        var f = line.Split(',');
        // Runs before GC-committed memory and threads were sampled have 10 fields; those two series read as NaN (not judged).
        if (f.Length is not (10 or 12)) throw new FormatException($"expected 12 fields (10 in older runs) in a soak.csv row: '{line}'");
        double D(string text) => text.Length == 0 ? double.NaN : double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return new Sample(D(f[0]), f[1], f[2], int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture), D(f[4]), D(f[5]), D(f[6]), D(f[7]), D(f[8]), D(f[9]), f.Length == 12 ? D(f[10]) : double.NaN, f.Length == 12 ? D(f[11]) : double.NaN);
    }

    private static string F(double v) => double.IsFinite(v) ? v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "";
}
