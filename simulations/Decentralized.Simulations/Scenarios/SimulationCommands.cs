using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Decentralized.Kernels;
using Decentralized.Simulations.Core;

namespace Decentralized.Simulations.Scenarios;

/// <summary>
/// Entry point of <c>decentralized sim &lt;scenario&gt;</c>. Each scenario prints its seed and every knob first (to the
/// log, normally stderr), runs in virtual time, and writes CSV, PNG charts, <c>report.md</c> and <c>summary.json</c>
/// to the output folder. The files hold only simulated quantities, so the same seed gives byte-identical CSV and
/// summary files; the run's wall-clock time goes to the log only.
/// </summary>
public static class SimulationCommands
{
    private static readonly (string Name, string Description, Action<ScenarioContext> Run)[] Scenarios =
    [
        (ConvergenceScenario.Name, "DDP vs DiLoCo vs NoLoCo at equal tokens on a 1 Gbit/s, 50 ms WAN: loss vs tokens and vs time, bytes sent", ConvergenceScenario.Run),
        (CompressionScenario.Name, "DiLoCo pseudo-gradients as fp32, int8, 4-bit + error feedback, top-k + error feedback", CompressionScenario.Run),
        (SyncScalingScenario.Name, "time of one outer synchronisation vs peers (8 to 256): NoLoCo pairs vs ring vs tree all-reduce", SyncScalingScenario.Run),
        (ChurnScenario.Name, "NoLoCo loss vs time with peers leaving, crashing and joining at two rates", ChurnScenario.Run),
        (HeterogeneousScenario.Name, "mixed GPU speeds: idle time with and without the overlap (one-step delay, node run --overlap)", HeterogeneousScenario.Run),
        (SwarmScenario.Name, "the daemon's own SwarmPeer on a simulated WAN: a crash, two joiners, every round's wait and why it closed", SwarmScenario.Run),
        (AttacksScenario.Name, "issue 24's attacks (sign flip, near the norm bound, random, replay, echo, free riders, garbage text) on DiLoCo, NoLoCo and SparseLoCo swarms, verification on and off", AttacksScenario.Run),
        (CheckFreeScenario.Name, "lost pipeline stages at 5/10/16% per stage-hour: CheckFree, CheckFree+, checkpoint restarts, redundant computation", CheckFreeScenario.Run),
    ];

    /// <summary>The scenario names <see cref="Run(string, SimulationRunOptions, TextWriter)"/> accepts.</summary>
    public static IReadOnlyList<string> ScenarioNames { get; } = Scenarios.Select(s => s.Name).ToArray();

    /// <summary>One line per scenario, for help text.</summary>
    public static IReadOnlyList<(string Name, string Description)> Describe() => Scenarios.Select(s => (s.Name, s.Description)).ToArray();

    /// <summary>
    /// Runs <paramref name="scenario"/>; returns 0 on success, 2 for invalid options (the reason is written to
    /// <paramref name="log"/>), 1 when the simulated system failed.
    /// </summary>
    public static int Run(string scenario, SimulationRunOptions options, TextWriter log) => Run(scenario, options, log, data: null);

    /// <summary>As <see cref="Run(string, SimulationRunOptions, TextWriter)"/> with a given corpus (tests).</summary>
    internal static int Run(string scenario, SimulationRunOptions options, TextWriter log, Node.Training.TrainingData? data)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var entry = Scenarios.FirstOrDefault(s => string.Equals(s.Name, scenario?.Trim(), StringComparison.OrdinalIgnoreCase));
        if (entry.Run is null)
        {
            log.WriteLine($"error: unknown scenario '{scenario}'; choose one of: {string.Join(", ", ScenarioNames)}");
            return 2;
        }
        try
        {
            options.Validate();
            var clock = Stopwatch.StartNew();
            var context = new ScenarioContext(entry.Name, options, log);
            if (data is not null) context.UseData(data);
            entry.Run(context);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {context.OutputDirectory} (wall time {clock.Elapsed.TotalSeconds:0.0} s)"));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or CodecException or IOException or UnauthorizedAccessException or Node.Data.DataException)
        {
            log.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (SimulationException e)
        {
            log.WriteLine($"error: the simulation failed: {e.Message} (replay with --seed {options.Seed})");
            return 1;
        }
    }

    /// <summary>The <c>sim</c> command for the CLI's command tree (progress and the run header go to stderr).</summary>
    public static Command Create() => SimulationCommandLine.Create();
}
