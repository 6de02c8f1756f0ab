using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Decentralized.Node.Tests.Readme;

/// <summary>
/// CI runs the README. Every command of its "Quick start", "Compare the methods" and "Train on your own text" blocks
/// is read from README.md itself and run as written by bash, from the repository (the built tree), with one change
/// allowed: fewer rounds or steps, through the command's own options. Each must exit 0 and its loss must have fallen.
/// If the README's commands change, this test runs the new ones; if a section disappears, it fails.
/// </summary>
public sealed partial class ReadmeCommandsTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>The README sections whose commands a newcomer runs first.</summary>
    public static readonly string[] Sections = ["Quick start", "Compare the methods", "Train on your own text", "Get the model out"];

    private readonly string _work = Directory.CreateTempSubdirectory("readme-").FullName;

    [Fact]
    public void Every_command_of_the_readme_runs_and_its_loss_falls()
    {
        var root = RepoRoot();
        var blocks = Blocks(File.ReadAllText(Path.Combine(root, "README.md")));
        foreach (var section in Sections)
            Assert.True(blocks.Any(b => b.Section.StartsWith(section, StringComparison.OrdinalIgnoreCase)), $"README has no '{section}' section with a bash block");
        var workspace = Workspace();
        var aliases = new StringBuilder();
        int ran = 0;
        foreach (var (section, commands) in blocks.Where(b => Sections.Any(s => b.Section.StartsWith(s, StringComparison.OrdinalIgnoreCase))))
        {
            // Where a user stands: in the checkout, except with their own text, where the corpora are (aliases are
            // defined in the checkout, as the README does, then carried over).
            var dir = section.StartsWith("Train on your own text", StringComparison.OrdinalIgnoreCase)
                || section.StartsWith("Get the model out", StringComparison.OrdinalIgnoreCase) ? workspace : root;
            foreach (var command in commands)
            {
                if (command.StartsWith("alias ", StringComparison.Ordinal)) { aliases.AppendLine(command); continue; }
                if (command.StartsWith("scripts/test.sh", StringComparison.Ordinal)) continue;   // the suite itself: .ci/run runs exactly it
                var shortened = Shorten(command);
                // Building and the scripts happen in the checkout, as the README says; `decentralized` where the section stands.
                var at = command.StartsWith("dotnet ", StringComparison.Ordinal) || command.StartsWith("scripts/", StringComparison.Ordinal) ? root : dir;
                var script = $"set -euo pipefail\nshopt -s expand_aliases\ncd '{root}'\n{aliases}cd '{at}'\n{shortened}\n";
                var (code, stdout, stderr) = Bash(at, script);
                output.WriteLine($"[{section}] {shortened}: exit {code}");
                Assert.True(code == 0, $"README command `{command}` (run as `{shortened}`) exited {code}:\n{Tail(stderr)}\n{Tail(stdout)}");
                CheckLossFell(command, stdout, stderr);
                ran++;
            }
        }
        Assert.True(ran >= 12, $"only {ran} README commands ran");
    }

    /// <summary>The only change allowed: fewer rounds or steps, through the command's own options.</summary>
    public static string Shorten(string command)
    {
        if (command.StartsWith("scripts/demo.sh", StringComparison.Ordinal)) return SetOption(command, "--rounds", "2");
        if (Regex.IsMatch(command, @"\bdecentralized\s+train\b")) return SetOption(SetOption(command, "--steps", "8"), "--inner-steps", "4");
        if (Regex.IsMatch(command, @"\bswarm\s+local\b")) return SetOption(command, "--rounds", "2");
        return command;
    }

    private static string SetOption(string command, string name, string value)
    {
        var pattern = new Regex(Regex.Escape(name) + @"(\s+|=)\S+");
        return pattern.IsMatch(command) ? pattern.Replace(command, $"{name} {value}", 1) : $"{command} {name} {value}";
    }

    /// <summary>The loss a user would watch: the first training loss printed, against the final validation loss.</summary>
    private void CheckLossFell(string command, string stdout, string stderr)
    {
        if (command.StartsWith("scripts/demo.sh", StringComparison.Ordinal) || Regex.IsMatch(command, @"\bswarm\s+local\b"))
        {
            var summary = Path.Combine(_work, "tmp", "decentralized-swarm-local", "summary.json");
            Assert.True(File.Exists(summary), $"`{command}` wrote no {summary}:\n{Tail(stderr)}");
            var peers = JsonNode.Parse(File.ReadAllText(summary))!["peers"]!.AsArray();
            Assert.Equal(4, peers.Count);
            foreach (var p in peers)
                Assert.True(p!["final_val_loss"]!.GetValue<double>() < p["first_val_loss"]!.GetValue<double>(), $"a peer's loss did not fall: {p.ToJsonString()}");
            Assert.Contains("swarm result", stderr);
            var png = Regex.Match(stderr, @"loss curve: (\S+\.png)");
            Assert.True(png.Success && new FileInfo(png.Groups[1].Value).Length > 1000, $"no loss curve PNG:\n{Tail(stderr)}");
            // A sample of what the swarm learned, continuing the prompt (after two rounds mostly noise: the first generated
            // byte may be a space, so only the prompt and one more character are checked).
            Assert.Matches(@"text from peer0's model [^\n]*\n  \| The .", stderr);
            return;
        }
        if (Regex.IsMatch(command, @"\bdecentralized\s+eval\b"))
        {
            var result = JsonNode.Parse(stdout)!;
            Assert.True(result["tokens"]!.GetValue<long>() > 0 && double.IsFinite(result["loss"]!.GetValue<double>()), stdout);
            return;
        }
        if (Regex.IsMatch(command, @"\bdecentralized\s+generate\b")) { Assert.True(stdout.Trim().Length > 0, "generate printed nothing"); return; }
        if (!Regex.IsMatch(command, @"\bdecentralized\s+train\b")) return;
        var first = Regex.Match(stderr, @"step 1/\d+\s+loss ([0-9.]+)");
        Assert.True(first.Success, $"`{command}` printed no first step:\n{Tail(stderr)}");
        double final = stdout.TrimStart().StartsWith('{')
            ? JsonNode.Parse(stdout)!["val_loss"]!.GetValue<double>()
            : double.Parse(Regex.Match(stderr, @"done: val_loss ([0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(final < double.Parse(first.Groups[1].Value, CultureInfo.InvariantCulture), $"`{command}`: loss did not fall ({first.Groups[1].Value} -> {final})");
    }

    /// <summary>Bash blocks of a markdown text, each with the heading it sits under and its commands (comments dropped).</summary>
    public static List<(string Section, List<string> Commands)> Blocks(string markdown)
    {
        var blocks = new List<(string, List<string>)>();
        string section = "";
        List<string>? current = null;
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (current is null && line.StartsWith('#')) section = line.TrimStart('#').Trim();
            else if (current is null && line.Trim() == "```bash") current = new List<string>();
            else if (current is not null && line.Trim() == "```") { blocks.Add((section, current)); current = null; }
            else if (current is not null)
            {
                var command = CommentPattern().Replace(line, "").Trim();
                if (command.Length > 0) current.Add(command);
            }
        }
        return blocks;
    }

    [GeneratedRegex(@"(^|\s)#.*$")]
    private static partial Regex CommentPattern();

    /// <summary>The corpora the README's examples name: a text file, a folder of text with a binary index inside, a JSONL file.</summary>
    private string Workspace()
    {
        var w = Directory.CreateDirectory(Path.Combine(_work, "texts")).FullName;
        Directory.CreateDirectory(Path.Combine(_work, "tmp"));
        var text = TestCorpus.Text(seed: 11, sentences: 20_000);
        File.WriteAllText(Path.Combine(w, "my-corpus.txt"), text);
        File.WriteAllText(Path.Combine(w, "held-out.txt"), TestCorpus.Text(seed: 12, sentences: 300));
        var corpus = Directory.CreateDirectory(Path.Combine(w, "corpus", "nested")).Parent!.FullName;
        File.WriteAllText(Path.Combine(corpus, "a.txt"), text[..(text.Length / 2)]);
        File.WriteAllText(Path.Combine(corpus, "nested", "b"), text[(text.Length / 2)..]);
        File.WriteAllBytes(Path.Combine(corpus, "a.dat"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 % 256)).ToArray());   // an index beside the text
        File.WriteAllLines(Path.Combine(w, "shards.jsonl"), text.Split('\n').Select(l => new JsonObject { ["text"] = l }.ToJsonString()));
        return w;
    }

    private (int Code, string Stdout, string Stderr) Bash(string dir, string script)
    {
        var info = new ProcessStartInfo("bash") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["TMPDIR"] = Path.Combine(_work, "tmp");   // swarm local's folder, away from other runs
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(8))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"`{script}` ran past 8 minutes"); }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Decentralized.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no Decentralized.sln above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
    }
}
