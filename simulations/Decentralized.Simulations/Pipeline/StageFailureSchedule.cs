using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Pipeline;

/// <summary>
/// Stage failures as in the CheckFree paper's failure model: a rate of 5%, 10% or 16% is the probability that a given
/// stage (all its replicas together) fails within an hour, so each stage fails as a Poisson process with intensity
/// λ = −ln(1 − rate) per hour. Every method at one rate sees the same failure times (common random numbers).
/// </summary>
public static class StageFailureSchedule
{
    public static IReadOnlyList<StageFailure> Draw(double ratePerHour, int stages, double horizonHours, DeterministicRandom random)
    {
        if (ratePerHour is < 0 or >= 1) throw new ArgumentException("failure rate per hour must be in [0, 1)");
        var failures = new List<StageFailure>();
        if (ratePerHour == 0) return failures;
        double lambda = -Math.Log(1 - ratePerHour);
        for (int stage = 0; stage < stages; stage++)
        {
            var stream = random.Fork($"stage-{stage}");
            for (double t = stream.NextExponential(1 / lambda); t < horizonHours; t += stream.NextExponential(1 / lambda))
                failures.Add(new StageFailure(t, stage));
        }
        return failures.OrderBy(f => f.Hours).ThenBy(f => f.Stage).ToArray();
    }
}
