namespace Decentralized.Protocol.Benchmarks;

/// <summary>One measured row: MB/s (10^6 bytes per second, one direction) or null when not run.</summary>
internal sealed record BenchmarkResult(string Pair, double? OneWayMBps, double? EchoMBps, double? DialToStreamMs, string Note = "");
