using System.Diagnostics;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Decentralized.Cli;

/// <summary>
/// What a person sees of a local swarm: on a terminal one live table (each peer's round, step, losses, tokens/s and an
/// ETA) instead of interleaved log lines; when the output is a file or a pipe, one plain line per event. At the end, a
/// table per peer. Fed by the daemons' JSON events (<c>listening</c>, <c>progress</c>, <c>round</c>, <c>exit</c>).
/// </summary>
public sealed class SwarmView
{
    private sealed class Row
    {
        public string Status = "starting";
        public long Round, Step;
        public double? Loss, ValLoss, TokensPerSecond;
        public readonly List<double> RoundSeconds = new();   // when each round event arrived, on the swarm's clock
    }

    private readonly IAnsiConsole? _console;
    private readonly bool _live;
    private readonly long _roundsTarget;
    private readonly List<Row> _rows = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _lock = new();

    /// <param name="output">Where people read (stderr); null: show nothing (<c>--json</c>).</param>
    /// <param name="roundsTarget">Rounds each peer runs (0: until Ctrl-C, no ETA).</param>
    public SwarmView(TextWriter? output, long roundsTarget)
    {
        _roundsTarget = roundsTarget;
        if (output is null) return;
        bool terminal = ReferenceEquals(output, Console.Error) ? !Console.IsErrorRedirected : ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) _console.Profile.Width = 132;   // a log file or pipe: no wrapping of the end table
        _live = terminal;
    }

    public void Started(int peer, string address)
    {
        lock (_lock)
        {
            while (_rows.Count <= peer) _rows.Add(new Row());
            _rows[peer].Status = "training";
        }
        Line($"peer{peer} started: {address}");
    }

    /// <summary>One JSON event of peer <paramref name="peer"/>'s daemon.</summary>
    public void Event(int peer, JsonNode e)
    {
        string? kind = e["event"]?.GetValue<string>();
        lock (_lock)
        {
            while (_rows.Count <= peer) _rows.Add(new Row());
            var row = _rows[peer];
            switch (kind)
            {
                case "progress":
                    row.Step = Long(e["step"]); row.Round = Long(e["round"]);
                    row.Loss = Double(e["loss"]) ?? row.Loss; row.TokensPerSecond = Double(e["tokens_per_second"]) ?? row.TokensPerSecond;
                    break;
                case "round":
                    row.Round = Long(e["round"]); row.Step = Long(e["step"]);
                    row.ValLoss = Double(e["val_loss"]); row.Loss = Double(e["train_loss"]) ?? row.Loss;
                    row.RoundSeconds.Add(_clock.Elapsed.TotalSeconds);
                    break;
                case "exit":
                    row.Status = "done";
                    row.Round = Long(e["round"]);
                    break;
                default:
                    return;
            }
        }
        if (kind == "round")
            Line($"peer{peer} round {e["round"]}  val_loss {Format(Double(e["val_loss"]))}  train_loss {Format(Double(e["train_loss"]))}  " +
                 $"partners {e["received"]?.AsArray().Count}/{e["partners"]?.AsArray().Count}  waited {Double(e["wait_seconds"]):F1}s");
        else if (kind == "exit") Line($"peer{peer} stopped at round {e["round"]}");
    }

    public void Exited(int peer)
    {
        lock (_lock) if (peer < _rows.Count && _rows[peer].Status != "done") _rows[peer].Status = "exited";
    }

    /// <summary>Shows the live table until <paramref name="work"/> ends (on a terminal); elsewhere just waits.</summary>
    public async Task ShowWhileAsync(Task work)
    {
        if (!_live || _console is null) { await work; return; }
        await _console.Live(Table()).AutoClear(false).StartAsync(async ctx =>
        {
            while (!work.IsCompleted)
            {
                ctx.UpdateTarget(Table());
                await Task.WhenAny(work, Task.Delay(500));
            }
            ctx.UpdateTarget(Table());
        });
        await work;
    }

    /// <summary>The end-of-run table, one row per peer's report (the daemons' <c>--report</c> files).</summary>
    public void Summary(IReadOnlyList<JsonObject> reports)
    {
        if (_console is null) return;
        // With a liar (swarm local --misbehave) the table names it and who excluded whom, by the table's peer names.
        var names = reports.Select((r, i) => (Id: r["peer_id"]?.GetValue<string>(), Name: $"peer{i}"))
            .Where(p => p.Id is not null).ToDictionary(p => p.Id!, p => p.Name);
        bool defences = reports.Any(r => r["misbehave"] is JsonValue || r["excluded"] is JsonArray { Count: > 0 });
        var table = new Table().Title("[bold]swarm result[/]")
            .AddColumns("peer", "rounds", "val loss (first -> final)", "tokens/s", "sent", "received", "waited for partners", "utilisation");
        if (defences) table.AddColumns("refused", "excluding");
        for (int i = 0; i < reports.Count; i++)
        {
            var r = reports[i];
            var cells = new List<string>
            {
                $"peer{i}" + (r["misbehave"] is JsonValue m ? $" ({m.GetValue<string>()})" : ""), Long(r["rounds"]).ToString(),
                $"{Format(Double(r["first_val_loss"]))} -> {Format(Double(r["final_val_loss"]))}",
                $"{Double(r["tokens_per_second"]) ?? 0:N0}", Units.Bytes(Long(r["bytes_out"])), Units.Bytes(Long(r["bytes_in"])),
                $"{Double(r["wait_seconds"]) ?? 0:F1} s", Double(r["utilisation"]) is { } u ? $"{u:P0}" : "-",
            };
            if (defences)
            {
                var excluded = (r["excluded"] as JsonArray ?? []).Select(e => e?.GetValue<string>()).OfType<string>()
                    .Select(id => names.GetValueOrDefault(id, id.Length > 8 ? id[^6..] : id)).ToArray();
                cells.Add(Long(r["rejected_updates"]).ToString());
                cells.Add(excluded.Length > 0 ? string.Join(", ", excluded) : "-");
            }
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        _console.Write(table);
        if (MeanUtilisation(reports) is { } mean)
            _console.WriteLine($"utilisation (time in inner steps / wall time after the warm-up, mean of the peers): {mean:P1}");
    }

    /// <summary>The peers' mean compute utilisation (each measured by its daemon), or null when none reported one.</summary>
    public static double? MeanUtilisation(IReadOnlyList<JsonObject> reports)
    {
        var values = reports.Select(r => Double(r["utilisation"])).OfType<double>().ToArray();
        return values.Length > 0 ? Math.Round(values.Average(), 4) : null;
    }

    /// <summary>A plain line for people (never while the live table owns the terminal).</summary>
    public void Line(string text)
    {
        if (_console is null || _live) return;
        lock (_lock) _console.WriteLine(text);
    }

    /// <summary>A line shown in every mode (after the live table ended): paths, generated text, errors.</summary>
    public void Note(string text)
    {
        if (_console is null) return;
        lock (_lock) _console.Profile.Out.Writer.WriteLine(text);
    }

    private Table Table()
    {
        var table = new Table().AddColumns("peer", "status", "round", "step", "train loss", "val loss", "tokens/s", "ETA");
        lock (_lock)
        {
            for (int i = 0; i < _rows.Count; i++)
            {
                var r = _rows[i];
                table.AddRow($"peer{i}", r.Status, _roundsTarget > 0 ? $"{r.Round}/{_roundsTarget}" : r.Round.ToString(), r.Step.ToString("N0"),
                    Format(r.Loss), Format(r.ValLoss), r.TokensPerSecond is { } t ? t.ToString("N0") : "-", Eta(r));
            }
        }
        return table;
    }

    /// <summary>Rounds left times the peer's mean round time so far; unknown until two rounds ended.</summary>
    private string Eta(Row r)
    {
        if (r.Status == "done") return "done";
        if (_roundsTarget <= 0 || r.RoundSeconds.Count < 2) return "-";
        double perRound = (r.RoundSeconds[^1] - r.RoundSeconds[0]) / (r.RoundSeconds.Count - 1);
        return Units.Duration(TimeSpan.FromSeconds(Math.Max(0, _roundsTarget - r.Round) * perRound));
    }

    private static string Format(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("F3") : "-";
    private static long Long(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var x) ? x : n is JsonValue d && d.TryGetValue<double>(out var y) ? (long)y : 0;
    private static double? Double(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var x) ? x : null;
}
