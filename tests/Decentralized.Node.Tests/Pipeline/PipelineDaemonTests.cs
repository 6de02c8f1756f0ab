using System.Diagnostics;
using System.Text.Json.Nodes;
using Decentralized.Node.Tests.Daemon;
using Xunit.Abstractions;

namespace Decentralized.Node.Tests.Pipeline;

/// <summary>
/// `decentralized pipeline run` as a user runs it: one process per peer on loopback. A middle stage whose only replica
/// is killed -9 is rebuilt by a joiner with CheckFree (no checkpoint exists to read) and stage 0's loss comes back;
/// peers with another swarm key, stage count, outer-round codec or H are refused at the gate while the pipeline keeps training.
/// </summary>
[Collection("daemons")]
[Trait("Category", "Daemon")]
public sealed class PipelineDaemonTests(ITestOutputHelper output) : IAsyncLifetime
{
    // The machine running the suite may be a loaded 2-core VM: generous, but every wait is bounded.
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(100);
    private const string Key = "00112233445566778899aabbccddeeff";
    // Past the steepest part of the curve, so "the loss came back" means something; under load (other tests on the same
    // two cores) reaching it took 81 s, hence the longer bound on that one wait.
    private const int MicrobatchesBeforeKill = 400;
    private static readonly TimeSpan Training = TimeSpan.FromSeconds(150);
    private const int LossWindow = 24;
    private readonly string _root = Directory.CreateTempSubdirectory("pipeline-daemons-").FullName;
    private readonly List<DaemonProcess> _daemons = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private DaemonProcess Start(string name, params string[] more)
    {
        string[] defaults = ["--stages", "3", "--device", "cpu", "--swarm-key", Key, "--heartbeat", "0.25", "--peer-timeout", "3",
            "--progress-seconds", "1", "--loss-window", LossWindow.ToString()];
        // An option given in `more` replaces the default of the same name.
        var overridden = more.Where(m => m.StartsWith("--")).ToHashSet();
        var args = new List<string>();
        for (int i = 0; i < defaults.Length; i += 2)
            if (!overridden.Contains(defaults[i])) args.AddRange([defaults[i], defaults[i + 1]]);
        var daemon = DaemonProcess.Pipeline(Path.Combine(_root, name), args.Concat(more));
        _daemons.Add(daemon);
        return daemon;
    }

    [Fact]
    public async Task AJoinerRebuildsAKilledMiddleStageWithCheckFreeAndStageZerosLossComesBack()
    {
        var s0 = Start("s0", "--stage", "0");
        string bootstrap = Address(s0);
        var s1 = Start("s1", "--stage", "1", "--bootstrap", bootstrap);
        var s2 = Start("s2", "--stage", "2", "--bootstrap", bootstrap);
        var trained = Wait(s0, e => IsProgress(e) && Microbatches(e) >= MicrobatchesBeforeKill && e["loss"] is not null,
            $"stage 0 to drive {MicrobatchesBeforeKill} microbatches", Training);
        double pre = trained["loss"]!.GetValue<double>();
        long atKill = Microbatches(trained);
        output.WriteLine($"{_clock.Elapsed.TotalSeconds:F1} s: {atKill} microbatches, loss {pre:F3}; killing stage 1 (kill -9)");

        s1.KillHard();
        var joiner = Start("joiner", "--bootstrap", bootstrap);
        var stage = Wait(joiner, e => DaemonProcess.Is(e, "stage"), "the joiner to take a stage");
        output.WriteLine($"{_clock.Elapsed.TotalSeconds:F1} s: joiner {stage.ToJsonString()}");
        Assert.Equal(1, stage["stage"]!.GetValue<int>());
        Assert.Equal("CheckFreeAverage", stage["method"]!.GetValue<string>());

        // Only microbatches completed after the rebuild count: stage 0 cannot finish one while stage 1 is missing.
        var recovered = Wait(s0, e => IsProgress(e) && Microbatches(e) >= atKill + LossWindow && e["loss"]!.GetValue<double>() <= 1.1 * pre,
            $"stage 0's loss to come back to within 10% of {pre:F3}");
        output.WriteLine($"{_clock.Elapsed.TotalSeconds:F1} s: {Microbatches(recovered)} microbatches, loss {recovered["loss"]!.GetValue<double>():F3}");
        Assert.False(s0.HasExited || s2.HasExited || joiner.HasExited, Logs());

        foreach (var d in new[] { s0, s2, joiner }) d.Terminate();   // SIGTERM: a clean stop with an exit event
        foreach (var d in new[] { s0, s2, joiner })
        {
            Assert.True(await d.WaitForExitAsync(Long) == 0, $"{d.Dir} did not exit cleanly\n{Logs()}");
            Wait(d, e => DaemonProcess.Is(e, "exit"), "the exit event");
        }
    }

    [Fact]
    public async Task PeersWithAnotherSwarmKeyStageCountOuterCompressionOrInnerStepsAreRefusedAndThePipelineKeepsTraining()
    {
        var s0 = Start("s0", "--stages", "2", "--stage", "0");
        string bootstrap = Address(s0);
        Start("s1", "--stages", "2", "--stage", "1", "--bootstrap", bootstrap);
        long before = Microbatches(Wait(s0, e => IsProgress(e) && Microbatches(e) > 0, "the 2-stage pipeline to train"));

        var wrongKey = Start("wrong-key", "--stages", "2", "--swarm-key", "ffeeddccbbaa99887766554433221100", "--bootstrap", bootstrap);
        var wrongStages = Start("wrong-stages", "--stages", "3", "--bootstrap", bootstrap);
        var wrongCompress = Start("wrong-compress", "--stages", "2", "--compress", "q4:bf16+ef+ans", "--bootstrap", bootstrap);
        var wrongH = Start("wrong-h", "--stages", "2", "--inner-steps", "20", "--bootstrap", bootstrap);
        Assert.True(await wrongKey.WaitForExitAsync(Long) != 0, $"a peer with another swarm key was let in\n{Logs()}");
        Assert.True(await wrongStages.WaitForExitAsync(Long) != 0, $"a peer with another stage count was let in\n{Logs()}");
        Assert.True(await wrongCompress.WaitForExitAsync(Long) != 0, $"a peer whose outer rounds use another codec chain was let in\n{Logs()}");
        Assert.True(await wrongH.WaitForExitAsync(Long) != 0, $"a peer with another H (--inner-steps) was let in\n{Logs()}");
        Assert.Contains("swarm key mismatch", wrongKey.Log);
        // The gate names the options that differ and both values, on both sides.
        Assert.Contains("--stages: ours '3', theirs '2'", wrongStages.Log);
        Assert.Contains("--stages: ours '2', theirs '3'", s0.Log);   // the refusing side says why too
        Assert.Contains("--compress: ours 'q4:bf16+ef+ans', theirs 'fp32'", wrongCompress.Log);
        Assert.Contains("--inner-steps: ours '20', theirs '10'", wrongH.Log);

        Wait(s0, e => IsProgress(e) && Microbatches(e) > before + 50, "the pipeline to keep training after the refusals");
        Assert.False(s0.HasExited, Logs());
    }

    private static bool IsProgress(JsonNode e) => DaemonProcess.Is(e, "progress");

    private static long Microbatches(JsonNode e) => e["microbatches"]!.GetValue<long>();

    private string Address(DaemonProcess d) =>
        Wait(d, e => DaemonProcess.Is(e, "listening"), "listening")["addrs"]![0]!.GetValue<string>();

    /// <summary>Waits for an event; on timeout fails with the last log lines of every daemon of the test, not only the one awaited.</summary>
    private JsonNode Wait(DaemonProcess d, Func<JsonNode, bool> match, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Long;
        try { return d.WaitFor(match, limit, what); }
        catch (TimeoutException) { throw new TimeoutException($"{what}: not seen within {limit.TotalSeconds:F0} s from {Path.GetFileName(d.Dir)}\n{Logs()}"); }
    }

    private string Logs() => string.Join("\n", _daemons.Select(d => $"--- {Path.GetFileName(d.Dir)} (exited: {d.HasExited})\n{d.Tail(25)}"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var d in _daemons) await d.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
