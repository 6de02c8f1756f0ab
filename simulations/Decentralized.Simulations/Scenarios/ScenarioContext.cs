using System.Globalization;
using Decentralized.Node.Training;
using Decentralized.Simulations.Compute;
using Decentralized.Simulations.Network;
using Decentralized.Simulations.Output;

namespace Decentralized.Simulations.Scenarios;

/// <summary>What a running scenario needs: its options, the output folder, the log, the data, and the knobs it printed.</summary>
internal sealed class ScenarioContext
{
    private readonly List<(string Name, string Value)> _knobs = new();
    private readonly List<string> _notes = new();
    private TrainingData? _data;

    public ScenarioContext(string scenario, SimulationRunOptions options, TextWriter log)
    {
        Scenario = scenario;
        Options = options;
        Log = log;
        OutputDirectory = options.OutputDirectory ?? Path.Combine(Environment.CurrentDirectory, $"sim-{scenario}");
        Directory.CreateDirectory(OutputDirectory);
    }

    public string Scenario { get; }
    public SimulationRunOptions Options { get; }
    public TextWriter Log { get; }
    public string OutputDirectory { get; }
    public IReadOnlyList<(string Name, string Value)> Knobs => _knobs;
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Full path of an output file.</summary>
    public string PathOf(string file) => Path.Combine(OutputDirectory, file);

    /// <summary>The training corpus (embedded by default), opened on first use.</summary>
    public TrainingData Data => _data ??= TrainingData.Open(new TrainingDataOptions(Options.CorpusPath), line => Log.WriteLine("  " + line));

    /// <summary>Lets tests inject a small corpus.</summary>
    public void UseData(TrainingData data) => _data = data;

    /// <summary>Prints the seed and every knob, before anything runs, and remembers them for the summary and report.</summary>
    public void Header(IEnumerable<(string Name, string Value)> knobs)
    {
        _knobs.Add(("seed", Options.Seed.ToString(CultureInfo.InvariantCulture)));
        _knobs.Add(("quick", Options.Quick ? "true" : "false"));
        _knobs.AddRange(knobs);
        Log.WriteLine($"decentralized sim {Scenario}: seed {Options.Seed} (replay: decentralized sim {Scenario} --seed {Options.Seed}{(Options.Quick ? " --quick" : "")})");
        foreach (var (name, value) in _knobs) Log.WriteLine($"  {name} = {value}");
        Log.Flush();
    }

    /// <summary>Records a chart; a chart that cannot be drawn becomes a note instead of a failure.</summary>
    public void Chart(string? failure)
    {
        if (failure is null) return;
        _notes.Add(failure);
        Log.WriteLine("  note: " + failure);
    }

    /// <summary>The network model from the command-line knobs.</summary>
    public NetworkOptions Network() => new NetworkOptions
    {
        Latency = TimeSpan.FromMilliseconds(Options.LatencyMs),
        Jitter = TimeSpan.FromMilliseconds(Options.JitterMs),
        UplinkBitsPerSecond = Options.BandwidthGbps * 1e9,
        DownlinkBitsPerSecond = Options.BandwidthGbps * 1e9,
        LossRate = Options.LossRate,
    }.Validate();

    /// <summary>The compute model from the command-line knobs.</summary>
    public ComputeOptions Compute(IReadOnlyList<GpuClass>? gpus = null) => new ComputeOptions
    {
        ReferenceStepTime = TimeSpan.FromMilliseconds(Options.StepTimeMs),
        Gpus = gpus ?? ComputeOptions.Homogeneous,
    }.Validate();

    /// <summary>Writes summary.json with the scenario, seed and knobs first.</summary>
    public void SaveSummary(Action<Summary> body)
    {
        var summary = new Summary().Set("scenario", Scenario).Set("seed", Options.Seed)
            .Section("knobs", k => { foreach (var (name, value) in _knobs) k.Set(name, value); });
        body(summary);
        summary.Save(PathOf("summary.json"));
    }

    /// <summary>Writes report.md: title, replay line, what was measured, the knobs, then the scenario's sections.</summary>
    public void SaveReport(string title, string intro, IEnumerable<string> sections)
    {
        var md = new System.Text.StringBuilder();
        md.Append("# ").Append(title).Append("\n\n").Append(intro).Append("\n\n");
        md.Append("Replay: `decentralized sim ").Append(Scenario).Append(" --seed ").Append(Options.Seed.ToString(CultureInfo.InvariantCulture))
            .Append(Options.Quick ? " --quick" : "").Append("` (same seed, same numbers).\n\n");
        foreach (var s in sections) md.Append(s.TrimEnd()).Append("\n\n");
        md.Append("## Knobs\n\n| knob | value |\n|---|---|\n");
        foreach (var (name, value) in _knobs) md.Append("| ").Append(name).Append(" | ").Append(value.Replace("|", "\\|")).Append(" |\n");
        if (_notes.Count > 0) md.Append("\n## Notes\n\n").AppendJoin("", _notes.Select(n => $"- {n}\n"));
        File.WriteAllText(PathOf("report.md"), md.ToString(), new System.Text.UTF8Encoding(false));
    }
}
