using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Decentralized.Node.Tests.Daemon;

/// <summary>
/// The daemon's status page in a real headless Chromium, read the way a person reads it: a 2-peer loopback swarm
/// with --http on both, then a joiner. Checks the page's visible text and drawing, not the JSON behind it.
/// </summary>
[Collection("daemons")]
[Trait("Category", "Daemon")]
public sealed partial class StatusPageBrowserTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan PageWait = TimeSpan.FromSeconds(30);
    private const string Key = "00112233445566778899aabbccddeeff";
    private readonly string _root = Directory.CreateTempSubdirectory("status-page-").FullName;

    private DaemonProcess Start(string name, params string[] more) => new(Path.Combine(_root, name),
    [
        "--model", "tiny", "--batch-size", "4", "--seq-len", "32", "--warmup", "5", "--lr", "3e-3", "--inner-steps", "5", "--rounds", "0",
        "--device", "cpu", "--eval-batches", "2", "--round-timeout", "15", "--heartbeat", "0.5", "--peer-timeout", "10", "--swarm-key", Key,
        .. more,
    ]);

    [ChromiumFact]
    public async Task StatusPageShowsRoundMembersAwaitedTrafficJoinersAndALossCurve()
    {
        await using var a = Start("a", "--min-peers", "2", "--http", "127.0.0.1:0");
        await using var b = Start("b", "--bootstrap", a.Address, "--http", "127.0.0.1:0");
        var (idA, idB) = (PeerId(a), PeerId(b));
        a.Round(3, Long);
        using var browser = OpenBrowser();
        var wait = new WebDriverWait(browser, PageWait) { Message = "" };
        string Text(string id) => browser.FindElement(By.Id(id)).Text;
        T Until<T>(string what, Func<T?> probe) where T : class
        {
            try { return wait.Until(_ => probe())!; }
            catch (WebDriverTimeoutException) { throw new TimeoutException($"status page of {a.Dir}: {what} not seen within {PageWait.TotalSeconds:F0} s; page text:\n{browser.FindElement(By.TagName("body")).Text}\n{a.Log}"); }
        }

        browser.Navigate().GoToUrl(HttpUrl(a));
        Until("its own peer id", () => Text("peer") == idA ? "" : null);

        // The round advances while the page is open (it polls; nobody reloads it).
        long firstRound = long.Parse(Text("round"), CultureInfo.InvariantCulture);
        Until("the round advancing", () => long.TryParse(Text("round"), out long r) && r >= firstRound + 2 ? "" : null);

        // Members: b, with the round it reported.
        var member = Until("b among the members", () => Row(browser, "members", idB));
        Assert.Matches(@"^\d+$", member[1]);

        // Connections: b's link with bytes both ways and a measured throughput above zero (heartbeats flow every 0.5 s).
        var link = Until("b's connection with traffic and throughput", () => Row(browser, "connections", idB) is { } r && Bytes(r[2]) > 0 && Bytes(r[3]) > 0 && Bytes(r[4]) > 0 && Bytes(r[5]) > 0 ? r : null);
        Assert.Equal("no", link[1]);
        Assert.EndsWith("/s", link[4]);

        // The same numbers for scripts and people at a terminal: /status, /metrics and `decentralized status`.
        await ExpectScriptViewsAsync(a, idA, idB);

        // The last round names its partner (b's short id) and why it closed.
        Until("the last round naming b", () => Text("last-round") is var t && t.Contains(idB[^6..]) && t.Contains("closed:") ? t : null);

        // A loss curve actually drawn: a polyline of many points with real extent, falling from its first point.
        var points = Until("a loss curve with more than one point", () =>
            browser.FindElement(By.Id("train-line")).GetAttribute("points") is { } p && p.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length > 10 ? p : null);
        var (width, height) = BoxOf(browser, "train-line");
        Assert.True(width > 100 && height > 20, $"the loss curve spans {width}x{height} px: not drawn\n{points}");
        Assert.Contains("training loss", Text("curve-range"));

        // Who is awaited: with b frozen (SIGSTOP), a's round waits for b and the page names it; after three missed
        // deadlines (2 s each at the floor) a leaves b out of its pairing and the page says so instead. Either names b
        // until its heartbeats are missed for --peer-timeout (10 s); the awaited window alone was too short on a loaded machine.
        b.Freeze();
        try { Until("b awaited or left out while frozen", () => Text("awaited").Contains(idB) || Text("suspended").Contains(idB) ? "" : null); }
        finally { b.Thaw(); }

        // A joiner: its donors' pages (it may download chunks from both) list it among the joiners served, with the bytes sent.
        await using var c = Start("c", "--bootstrap", a.Address);
        string idC = PeerId(c);
        c.WaitFor(e => DaemonProcess.Is(e, "round"), Long, "the joiner's first round");
        Assert.Contains("joined at round", c.Log);
        // A donor whose stream the joiner drops once it has every chunk shows "ended early"; at least one finished cleanly.
        double servedBytes = 0;
        var results = new List<string>();
        foreach (var donor in new[] { a, b })
        {
            browser.Navigate().GoToUrl(HttpUrl(donor));
            string idDonor = PeerId(donor);
            Until($"{donor.Dir}'s page", () => Text("peer") == idDonor ? "" : null);
            foreach (var row in Rows(browser, "joiners-served", idC))
            {
                Assert.Contains(row[4], new[] { "ok", "ended early" });
                servedBytes += Bytes(row[1]);
                results.Add($"{donor.Dir}: {row[1]} {row[4]}");
            }
        }
        Assert.True(servedBytes > 100_000 && results.Any(r => r.EndsWith(" ok")),
            $"the donors' pages show {servedBytes:F0} bytes served to the joiner [{string.Join("; ", results)}]; the tiny model's state is ~1 MiB\n{c.Log}");
        Until("the joiner among the members", () => Row(browser, "members", idC));

        foreach (var p in new[] { a, b, c }) p.Terminate();
        foreach (var p in new[] { a, b, c }) await p.ExpectCleanExitAsync(Long);
    }

    private static async Task ExpectScriptViewsAsync(DaemonProcess node, string self, string other)
    {
        string endpoint = Listening(node)["http"]!.GetValue<string>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var json = JsonNode.Parse(RunCli("status", endpoint, "--json"))!;
        Assert.Equal(self, json["peer_id"]!.GetValue<string>());
        Assert.True(json["round"]!.GetValue<long>() >= 1);
        var link = json["connections"]!.AsArray().Single(c => c!["peer_id"]!.GetValue<string>() == other)!;
        Assert.False(link["relayed"]!.GetValue<bool>());
        Assert.True(link["bytes_in"]!.GetValue<long>() > 0 && link["bytes_out"]!.GetValue<long>() > 0, link.ToJsonString());

        var metrics = await http.GetStringAsync($"http://{endpoint}/metrics");
        Assert.Matches($"(?m)^decentralized_peer_bytes_in_total\\{{peer=\"{other}\"\\}} [1-9]", metrics);
        Assert.Matches($"(?m)^decentralized_peer_in_bytes_per_second\\{{peer=\"{other}\"\\}} [0-9]", metrics);
        Assert.Matches("(?m)^decentralized_live_tensors [1-9]", metrics);
        Assert.Matches("(?m)^decentralized_open_files [1-9]", metrics);

        var text = RunCli("status", endpoint);
        Assert.Contains("waiting for:", text);
        Assert.Contains(other, text);
        Assert.Contains("/s", text);
    }

    /// <summary>Runs the `decentralized` CLI to completion; fails with its output unless it exits 0.</summary>
    private static string RunCli(params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "decentralized.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1))) { process.Kill(entireProcessTree: true); Assert.Fail($"decentralized {string.Join(' ', args)} hung"); }
        Assert.True(process.ExitCode == 0, $"decentralized {string.Join(' ', args)} exited {process.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }

    private static ChromeDriver OpenBrowser()
    {
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromiumFactAttribute.Driver)!, Path.GetFileName(ChromiumFactAttribute.Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumFactAttribute.Browser };
        // Root in a container: no sandbox; /dev/shm may be tiny.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,2000");
        return new ChromeDriver(service, options, TimeSpan.FromMinutes(1));
    }

    /// <summary>The cells' visible text of the row for <paramref name="peer"/> in a table, or null while it is absent.</summary>
    private static string[]? Row(IWebDriver browser, string table, string peer) => Rows(browser, table, peer).FirstOrDefault();

    /// <summary>Every row for <paramref name="peer"/> in a table (a joiner served twice has two), read in one script call so a redraw cannot tear it.</summary>
    private static IReadOnlyList<string[]> Rows(IWebDriver browser, string table, string peer)
    {
        var rows = (IReadOnlyCollection<object>)((IJavaScriptExecutor)browser).ExecuteScript(
            "return [...document.querySelectorAll('#'+arguments[0]+' tbody tr')].map(r=>[...r.cells].map(c=>c.innerText));", table)!;
        return rows.Select(r => ((IReadOnlyCollection<object>)r).Select(c => (string)c).ToArray()).Where(cells => cells.Length > 0 && cells[0] == peer).ToArray();
    }

    private static (double Width, double Height) BoxOf(IWebDriver browser, string id)
    {
        var box = (IReadOnlyDictionary<string, object>)((IJavaScriptExecutor)browser).ExecuteScript(
            "const b=document.getElementById(arguments[0]).getBBox();return {w:b.width,h:b.height};", id)!;
        return (Convert.ToDouble(box["w"], CultureInfo.InvariantCulture), Convert.ToDouble(box["h"], CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^(?<n>[0-9.]+) (?<u>B|KiB|MiB|GiB|TiB)(/s)?$")]
    private static partial Regex BytesText();

    /// <summary>"12.3 KiB" or "1.0 MiB/s" as a number of bytes; fails on anything a person could not read as a size.</summary>
    private static double Bytes(string text)
    {
        var m = BytesText().Match(text);
        Assert.True(m.Success, $"'{text}' is not a size");
        int power = Array.IndexOf(new[] { "B", "KiB", "MiB", "GiB", "TiB" }, m.Groups["u"].Value);
        return double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) * Math.Pow(1024, power);
    }

    private static JsonNode Listening(DaemonProcess p) => p.WaitFor(e => DaemonProcess.Is(e, "listening"), Long, "listening");
    private static string PeerId(DaemonProcess p) => Listening(p)["peer_id"]!.GetValue<string>();
    private static string HttpUrl(DaemonProcess p) => "http://" + Listening(p)["http"]!.GetValue<string>() + "/";

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
