namespace Decentralized.Simulations.Pipeline;

/// <summary>One validation point of a run: simulated hours, iterations done, loss.</summary>
public readonly record struct RecoveryCurvePoint(double Hours, long Iteration, double ValidationLoss);

/// <summary>What one pipeline run did and how its loss went.</summary>
public sealed record PipelineRecoveryResult(
    RecoveryMethod Method,
    double FailureRatePerHour,
    IReadOnlyList<RecoveryCurvePoint> Curve,
    int Failures,
    int AveragedRebuilds,
    int CopiedRebuilds,
    int Rollbacks,
    long LostIterations,
    int Checkpoints,
    long Iterations,
    double Hours)
{
    /// <summary>First simulated hour at which the validation loss is at or below <paramref name="target"/>; null if never.</summary>
    public double? HoursToLoss(double target) => Curve.FirstOrDefault(p => p.ValidationLoss <= target) is { Iteration: > 0 } p ? p.Hours : null;

    public double FinalValidationLoss => Curve[^1].ValidationLoss;
}
