namespace Decentralized.Cli;

/// <summary>Human-readable sizes and durations for progress lines.</summary>
public static class Units
{
    public static string Bytes(double bytes)
    {
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB" };
        int u = 0;
        while (bytes >= 1024 && u < units.Length - 1) { bytes /= 1024; u++; }
        return u == 0 ? $"{bytes:F0} {units[u]}" : $"{bytes:F1} {units[u]}";
    }

    public static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";
}
