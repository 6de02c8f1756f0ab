namespace Decentralized.Simulations.Pipeline;

/// <summary>All replicas of <paramref name="Stage"/> fail at <paramref name="Hours"/> of simulated wall-clock time.</summary>
public readonly record struct StageFailure(double Hours, int Stage);
