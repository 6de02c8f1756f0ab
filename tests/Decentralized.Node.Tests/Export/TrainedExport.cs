using Decentralized.Cli;

namespace Decentralized.Node.Tests.Export;

/// <summary>One tiny model trained for 40 steps with <c>decentralized train</c> and exported, shared by the export tests.</summary>
public sealed class TrainedExport : IDisposable
{
    public TrainedExport()
    {
        Corpus = Path.Combine(Dir, "corpus.txt");
        File.WriteAllText(Corpus, TestCorpus.Text(seed: 1, sentences: 2_000));
        EvalText = Path.Combine(Dir, "eval.txt");
        File.WriteAllText(EvalText, TestCorpus.Text(seed: 9, sentences: 30) + "Unseen: ünïcödé ✓.");
        Checkpoint = Path.Combine(Dir, "run.ckpt");
        var (code, _, error) = Run("train", "--model", "tiny", "--replicas", "2", "--steps", "40", "--inner-steps", "10", "--batch-size", "4",
            "--seq-len", "64", "--eval-every", "0", "--eval-batches", "1", "--device", "cpu", "--data", Corpus,
            "--cache-dir", Path.Combine(Dir, "cache"), "--checkpoint", Checkpoint);
        if (code != 0) throw new InvalidOperationException($"train failed: {error}");
        Exported = Path.Combine(Dir, "hf");
        (code, _, error) = Run("export", Checkpoint, "--out", Exported);
        if (code != 0) throw new InvalidOperationException($"export failed: {error}");
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("export-").FullName;
    public string Corpus { get; }
    public string EvalText { get; }
    public string Checkpoint { get; }
    public string Exported { get; }

    /// <summary>Runs the CLI in-process, capturing stdout and stderr.</summary>
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var (savedOut, savedError) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try { return (CliApp.Run(args), output.ToString(), error.ToString()); }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
