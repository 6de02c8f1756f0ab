using System.Globalization;

namespace Decentralized.Soak;

/// <summary>Reads one process's numbers: RSS and file handles from /proc, heap, tensors, connections and round from its /metrics.</summary>
public sealed class Probe(HttpClient http)
{
    public async Task<Sample> ReadAsync(NodeProcess p, double seconds)
    {
        double rss = double.NaN, files = double.NaN, threads = double.NaN;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{p.Pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;   // kB
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    threads = double.Parse(line.Split('\t', ' ').Last(t => t.Length > 0), CultureInfo.InvariantCulture);
            files = Directory.GetFileSystemEntries($"/proc/{p.Pid}/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // exited between the check and the read

        var metrics = new Dictionary<string, double>();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var text = await http.GetStringAsync($"http://{p.Http}/metrics", cts.Token);
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#' || line.Contains('{')) continue;
                var parts = line.Split(' ');
                if (parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) metrics[parts[0]] = v;
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException) { }   // busy or gone: NaN this time

        double Metric(string name) => metrics.TryGetValue("decentralized_" + name, out double v) ? v : double.NaN;
        return new Sample(seconds, p.Name, p.Role, p.Pid, rss, Metric("managed_heap_bytes"), Metric("live_tensors"), Metric("connections"), files, Metric("round"), Metric("gc_committed_bytes"), threads);
    }
}
