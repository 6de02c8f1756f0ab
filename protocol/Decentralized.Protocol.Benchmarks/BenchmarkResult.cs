namespace Decentralized.Protocol.Benchmarks;

/// <summary>
/// One measured row: MB/s (10^6 bytes per second, one direction) or null when not run. <paramref name="OneWayCpuMs"/> is
/// the CPU time this process spent on the one-way transfer, for rows that run entirely in this process (null otherwise):
/// on a shared machine it is steadier than wall-clock rates.
/// </summary>
internal sealed record BenchmarkResult(string Pair, double? OneWayMBps, double? EchoMBps, double? DialToStreamMs, string Note = "", double? OneWayCpuMs = null);
