using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Decentralized.Cli;
using Decentralized.Node.Tests.Daemon;

namespace Decentralized.Node.Tests.FirstRun;

/// <summary>
/// What went wrong in a real user's first hour, each now one clear line before anything is created, or a run that is
/// kept: impossible option combinations, a swarm key file, a data dir two nodes share, a busy port, a bare status
/// port, Ctrl-C in <c>train</c>.
/// </summary>
[Collection("console")]
public sealed partial class FirstHourTests : IDisposable
{
    private const string Key = "00112233445566778899aabbccddeeff";
    private readonly string _dir = Directory.CreateTempSubdirectory("first-hour-").FullName;

    private static (int Code, string Error) Cli(params string[] args)
    {
        var saved = Console.Error;
        var capture = new StringWriter();
        Console.SetError(capture);
        try { return (CliApp.Run(args), capture.ToString()); }
        finally { Console.SetError(saved); }
    }

    private static void OneErrorLine(int code, string error, params string[] expected)
    {
        Assert.Equal(CliErrors.UsageError, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: "), $"expected one error line, got:\n{error}");
        foreach (var e in expected) Assert.Contains(e, lines[0]);
    }

    [Fact]
    public void The_sequence_length_follows_the_model_and_an_impossible_one_is_refused_before_any_folder_exists()
    {
        Assert.Equal(64, ShapeOptions.Resolve("tiny", null, null, null, 16, null).SequenceLength);
        Assert.Equal(128, ShapeOptions.Resolve("small", null, null, null, 16, null).SequenceLength);
        var swarmDir = Path.Combine(_dir, "swarm");
        var (code, error) = Cli("swarm", "local", "--model", "tiny", "--node-args", "--seq-len 128", "--dir", swarmDir);
        OneErrorLine(code, error, "--seq-len 128", "--model tiny", "64");
        Assert.False(Directory.Exists(swarmDir));
        (code, error) = Cli("train", "--heads", "5", "--steps", "1");
        OneErrorLine(code, error, "--heads 5", "128");
        (code, error) = Cli("node", "run", "--model", "tiny", "--seq-len", "65", "--data-dir", Path.Combine(_dir, "never"));
        OneErrorLine(code, error, "--seq-len 65");
        Assert.False(Directory.Exists(Path.Combine(_dir, "never")));
    }

    [Fact]
    public void Keygen_creates_an_owner_only_swarm_key_and_a_key_file_holds_a_key_and_nothing_else()
    {
        var path = Path.Combine(_dir, "swarm.key");
        var (code, error) = Cli("keygen", "--key-file", Path.Combine(_dir, "identity.key"), "--swarm-key", path);
        Assert.True(code == 0, error);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(32, SwarmKeyFile.Parse("@" + path).Length);
        Assert.Contains("already exists", Assert.Throws<IOException>(() => SwarmKeyFile.Create(path)).Message);   // never overwritten

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Contains($"run `chmod 600 {path}`", Assert.Throws<ArgumentException>(() => SwarmKeyFile.Parse("@" + path)).Message);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite);   // others could swap the key
        var (refusedCode, refused) = Cli("node", "run", "--swarm-key", "@" + path, "--data-dir", Path.Combine(_dir, "n"), "--key-file", Path.Combine(_dir, "n.key"));
        OneErrorLine(refusedCode, refused, $"chmod 600 {path}");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // A key file with more words must not turn them into options (it used to stop the node after 2 rounds).
        var injected = Path.Combine(_dir, "injected.key");
        File.WriteAllText(injected, Key + " --rounds 2\n");
        File.SetUnixFileMode(injected, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (code, error) = Cli("node", "run", "--swarm-key", "@" + injected, "--data-dir", Path.Combine(_dir, "n"), "--key-file", Path.Combine(_dir, "n.key"));
        OneErrorLine(code, error, "one hex key and nothing else");
        (code, error) = Cli("node", "run", "--swarm-key", "@" + Path.Combine(_dir, "missing.key"), "--data-dir", Path.Combine(_dir, "n"));
        OneErrorLine(code, error, "keygen --swarm-key");
    }

    [Fact]
    public void A_bare_port_is_this_machine()
    {
        Assert.Equal("http://127.0.0.1:9201", StatusCommand.ToUrl("9201"));
        Assert.Equal("http://127.0.0.1:9201", StatusCommand.ToUrl(":9201"));
        Assert.Equal("http://10.0.0.2:9201", StatusCommand.ToUrl("10.0.0.2:9201"));
    }

    [Fact]
    [Trait("Category", "Daemon")]
    public async Task An_identity_key_other_users_can_read_is_warned_about_at_start_and_the_node_keeps_its_peer_id()
    {
        var dir = Path.Combine(_dir, "exposed");
        var keyPath = Path.Combine(dir, "key");   // where DaemonProcess points --key-file
        Directory.CreateDirectory(dir);
        var key = Decentralized.Protocol.Identity.PrivateKey.Generate();
        Decentralized.Protocol.Tcp.KeyFile.Save(keyPath, key);
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var node = new DaemonProcess(dir, ["--model", "tiny", "--batch-size", "2", "--swarm-key", Key, "--rounds", "0", "--device", "cpu"]);
        Assert.EndsWith("/p2p/" + key.PeerId, node.Address);   // it still starts, as the same peer
        Assert.Contains($"identity key {keyPath} (peer {key.PeerId}) can be read or changed by other users", node.Log);
        Assert.Contains($"chmod 600 {keyPath}", node.Log);
        node.Terminate();
        await node.ExpectCleanExitAsync(TimeSpan.FromMinutes(1));
    }

    [Fact]
    [Trait("Category", "Daemon")]
    public async Task A_second_node_on_the_same_data_dir_or_a_busy_port_is_refused_with_one_line()
    {
        var shared = Path.Combine(_dir, "node");
        await using var first = new DaemonProcess(shared, ["--model", "tiny", "--batch-size", "2", "--swarm-key", Key, "--rounds", "0", "--device", "cpu"]);
        _ = first.Address;   // listening: it holds its data dir
        await using var second = new DaemonProcess(shared, ["--model", "tiny", "--swarm-key", Key, "--device", "cpu"]);
        Assert.Equal(CliErrors.UsageError, await second.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("is in use by another node", second.Log);
        Assert.DoesNotContain("   at ", second.Log);

        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int port = ((IPEndPoint)busy.LocalEndpoint).Port;
        await using var third = new DaemonProcess(Path.Combine(_dir, "third"), ["--model", "tiny", "--swarm-key", Key, "--device", "cpu"], listen: $"/ip4/127.0.0.1/tcp/{port}");
        Assert.Equal(CliErrors.UsageError, await third.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"tcp/{port}: the port is already in use", third.Log);
        Assert.DoesNotContain("   at ", third.Log);
        await using var fourth = new DaemonProcess(Path.Combine(_dir, "fourth"), ["--model", "tiny", "--swarm-key", Key, "--device", "cpu", "--http", $"127.0.0.1:{port}"]);
        Assert.Equal(CliErrors.UsageError, await fourth.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"--http 127.0.0.1:{port}: the port is already in use", fourth.Log);
        first.Terminate();
        await first.ExpectCleanExitAsync(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Ctrl_c_in_train_saves_where_it_stopped_and_the_run_resumes_from_there()
    {
        var corpus = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(corpus, TestCorpus.Text(seed: 1, sentences: 2_000));
        var checkpoint = Path.Combine(_dir, "run.ckpt");
        string[] args = ["train", "--model", "tiny", "--replicas", "2", "--steps", "100000", "--inner-steps", "2", "--batch-size", "2", "--seq-len", "16",
            "--eval-batches", "1", "--eval-every", "0", "--device", "cpu", "--threads", "1", "--data", corpus, "--cache-dir", Path.Combine(_dir, "cache"),
            "--checkpoint", checkpoint];
        // Through `env --default-signal=INT`: a suite started in the background (`scripts/test.sh &`, nohup) hands its
        // children SIGINT ignored, and a process that starts with SIGINT ignored rightly keeps ignoring it; at a
        // terminal, where Ctrl-C comes from, it is not.
        var info = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args.Prepend(Path.Combine(AppContext.BaseDirectory, "decentralized.dll")).Prepend("dotnet").Prepend("--default-signal=INT")) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var lines = new List<string>();
        var sawStep = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) => { if (e.Data is null) return; lock (lines) lines.Add(e.Data); if (e.Data.StartsWith("step ")) sawStep.TrySetResult(); };
        p.BeginErrorReadLine();
        await sawStep.Task.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(0, Kill(p.Id, 2));   // SIGINT, as Ctrl-C sends
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        string log; lock (lines) log = string.Join('\n', lines);
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}\n{log}");
        Assert.Contains($"saved {checkpoint}", log);
        Assert.Contains("--resume", log);
        Assert.True(File.Exists(checkpoint));
        var (code, error) = Cli(args.Select(a => a == "100000" ? "60" : a).Append("--resume").ToArray());
        Assert.True(code == 0, error);
        Assert.Contains("resumed from", error);
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
