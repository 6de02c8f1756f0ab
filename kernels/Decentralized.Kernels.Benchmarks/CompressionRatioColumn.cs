using System.Collections.Concurrent;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>fp32 bytes / blob bytes for the case's chain and size. Benchmarks run in child processes,
/// so the host recomputes the ratio on a 1M-element sample when it was not recorded in-process.</summary>
public sealed class CompressionRatioColumn : IColumn
{
    private static readonly ConcurrentDictionary<(string, int), double> Ratios = new();

    public string Id => nameof(CompressionRatioColumn);
    public string ColumnName => "Compression";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "compression ratio: fp32 bytes / encoded blob bytes";

    public static void Record(string chain, int n, double ratio) => Ratios[(chain, n)] = ratio;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        if (benchmarkCase.Parameters["Chain"] is not string chain || benchmarkCase.Parameters["N"] is not int n)
        {
            return "-";
        }

        double ratio = Ratios.GetOrAdd((chain, n), key =>
        {
            int sample = Math.Min(key.Item2, 1 << 20);
            var tensors = new[] { new TensorView("w", [sample], BenchInputs.Make(sample)) };
            long bytes = new PseudoGradientEncoder(CodecChain.Parse(key.Item1)).Encode(tensors, Stream.Null, new ErrorFeedbackState());
            return 4.0 * sample / bytes;
        });
        return ratio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
