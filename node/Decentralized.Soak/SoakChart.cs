using ScottPlot;

namespace Decentralized.Soak;

/// <summary>soak.png: one panel per series (RSS, heap, tensors, connections, file handles) against minutes, one line per process.</summary>
public static class SoakChart
{
    /// <summary>Draws the chart; returns null on success or why it could not be drawn (no native Skia, no fonts).</summary>
    public static string? Draw(string path, IReadOnlyList<Sample> samples)
    {
        try
        {
            var multiplot = new Multiplot();
            multiplot.AddPlots(Sample.Series.Length);
            var processes = samples.GroupBy(s => (s.Process, s.Pid)).ToArray();
            var palette = new ScottPlot.Palettes.Category10();
            var names = processes.Select(g => g.Key.Process.StartsWith("joiner", StringComparison.Ordinal) ? "joiners" : g.Key.Process).Distinct().ToList();
            for (int k = 0; k < Sample.Series.Length; k++)
            {
                var (name, unit, value) = Sample.Series[k];
                var plot = multiplot.GetPlot(k);
                var labelled = new HashSet<string>();
                foreach (var g in processes)
                {
                    var points = g.Where(s => double.IsFinite(value(s))).ToArray();
                    if (points.Length < 2) continue;
                    string group = g.Key.Process.StartsWith("joiner", StringComparison.Ordinal) ? "joiners" : g.Key.Process;
                    var line = plot.Add.Scatter(points.Select(s => s.Seconds / 60).ToArray(), points.Select(value).ToArray());
                    line.Color = palette.GetColor(names.IndexOf(group));
                    line.MarkerSize = 0;
                    if (labelled.Add(group)) line.LegendText = group;
                }
                plot.Title($"{name} ({unit})");
                plot.XLabel("minutes");
                plot.ShowLegend(Alignment.UpperLeft);
            }
            multiplot.SavePng(path, 1100, 320 * Sample.Series.Length);
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or InvalidOperationException or ArgumentException or IOException)
        {
            return $"{Path.GetFileName(path)} not drawn: {e.GetBaseException().Message}";
        }
    }
}
