namespace Decentralized.Node.Pipeline;

/// <summary>The training loss of one microbatch this peer drove, when it came back.</summary>
public readonly record struct PipelineLossPoint(DateTimeOffset At, long Microbatch, bool Swapped, double Loss);
