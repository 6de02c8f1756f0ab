using ScottPlot;

namespace Decentralized.Simulations.Output;

/// <summary>PNG charts for the reports (ScottPlot). A failure to render (no fonts, no native Skia) is reported, never fatal.</summary>
public static class Charts
{
    /// <summary>One named line of a chart.</summary>
    public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

    /// <summary>Draws line series; <paramref name="logX"/> plots log2(x) with the original values as tick labels.</summary>
    public static string? Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logX = false, bool logY = false, bool legendLeft = false)
    {
        return Render(path, plot =>
        {
            foreach (var s in series)
            {
                var xs = s.X.Select(x => logX ? Math.Log2(x) : x).ToArray();
                var ys = s.Y.Select(y => logY ? Math.Log10(y) : y).ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = s.Name;
                line.MarkerSize = xs.Length > 40 ? 0 : 5;
            }
            if (logX)
            {
                var ticks = series.SelectMany(s => s.X).Distinct().OrderBy(x => x).ToArray();
                plot.Axes.Bottom.SetTicks(ticks.Select(Math.Log2).ToArray(), ticks.Select(t => CsvTable.Format(t)).ToArray());
            }
            if (logY)
            {
                var all = series.SelectMany(s => s.Y).Where(y => y > 0).ToArray();
                if (all.Length > 0)
                {
                    int lo = (int)Math.Floor(Math.Log10(all.Min())), hi = (int)Math.Ceiling(Math.Log10(all.Max()));
                    var positions = Enumerable.Range(lo, hi - lo + 1).Select(e => (double)e).ToArray();
                    plot.Axes.Left.SetTicks(positions, positions.Select(p => CsvTable.Format(Math.Pow(10, p))).ToArray());
                }
            }
            Decorate(plot, title, xLabel, yLabel, legend: series.Count > 1, legendLeft);
        });
    }

    /// <summary>Draws one bar per label.</summary>
    public static string? Bars(string path, string title, string yLabel, IReadOnlyList<string> labels, IReadOnlyList<double> values)
    {
        return Render(path, plot =>
        {
            var positions = Enumerable.Range(0, labels.Count).Select(i => (double)i).ToArray();
            plot.Add.Bars(positions, values.ToArray());
            plot.Axes.Bottom.SetTicks(positions, labels.ToArray());
            plot.Axes.Margins(bottom: 0);
            Decorate(plot, title, "", yLabel, legend: false, left: false);
        });
    }

    private static void Decorate(Plot plot, string title, string xLabel, string yLabel, bool legend, bool left)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (legend) plot.ShowLegend(left ? Alignment.UpperLeft : Alignment.UpperRight);
    }

    /// <summary>Renders to <paramref name="path"/>; returns null on success or the reason it could not draw.</summary>
    private static string? Render(string path, Action<Plot> draw)
    {
        try
        {
            using var plot = new Plot();
            draw(plot);
            plot.SavePng(path, 900, 560);
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or InvalidOperationException or ArgumentException or IOException)
        {
            return $"{Path.GetFileName(path)} not drawn: {e.GetBaseException().Message}";
        }
    }
}
