using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Decentralized.Kernels.Benchmarks;

/// <summary>Short runs (the inputs are hundreds of MB) plus the GB/s and compression-ratio columns.</summary>
public sealed class CodecBenchmarkConfig : ManualConfig
{
    public CodecBenchmarkConfig()
    {
        AddJob(Job.ShortRun.WithWarmupCount(2).WithIterationCount(5));
        AddColumn(new ThroughputColumn(), new CompressionRatioColumn());
        HideColumns(Column.Error, Column.StdDev);
    }
}
