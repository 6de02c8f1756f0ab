using Decentralized.Cli;

namespace Decentralized.Node.Tests;

/// <summary>Bad input to <c>decentralized train</c>: one clear error line, a non-zero exit, and a good checkpoint left alone.</summary>
[Collection("console")]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("train-cli-").FullName;

    private (int Code, string Error) Run(params string[] args)
    {
        var saved = Console.Error;
        var capture = new StringWriter();
        Console.SetError(capture);
        try { return (CliApp.Run(args.Concat(new[] { "--cache-dir", Path.Combine(_dir, "cache") }).ToArray()), capture.ToString()); }
        finally { Console.SetError(saved); }
    }

    /// <summary>A tiny, fast run; <paramref name="overrides"/> replace or add options.</summary>
    private string[] Tiny(params string[] overrides)
    {
        var args = new[]
        {
            "--model", "tiny", "--replicas", "2", "--steps", "4", "--inner-steps", "2", "--batch-size", "2", "--seq-len", "16",
            "--eval-batches", "1", "--eval-every", "0", "--device", "cpu", "--data", TextFile(),
        };
        var options = new Dictionary<string, string?>();   // insertion order is kept for new keys
        foreach (var list in new[] { args, overrides })
            for (int i = 0; i < list.Length; i++)
                options[list[i]] = i + 1 < list.Length && !list[i + 1].StartsWith("--") ? list[++i] : null;
        return new[] { "train" }.Concat(options.SelectMany(o => o.Value is null ? new[] { o.Key } : new[] { o.Key, o.Value })).ToArray();
    }

    private string TextFile()
    {
        var path = Path.Combine(_dir, "corpus.txt");
        if (!File.Exists(path)) File.WriteAllText(path, TestCorpus.Text(seed: 1, sentences: 2_000));
        return path;
    }

    private static void OneErrorLine(int code, string error, string expected)
    {
        Assert.NotEqual(0, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToArray();
        Assert.True(lines.Length == 1, $"expected one error line, got: {error}");
        Assert.Contains(expected, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", error);   // no stack trace
    }

    [Fact]
    public void EmptyCorpusIsRefused()
    {
        var empty = Path.Combine(_dir, "empty.txt");
        File.WriteAllText(empty, "");
        var (code, error) = Run(Tiny("--data", empty));
        OneErrorLine(code, error, "empty");
    }

    [Fact]
    public void BinaryFileIsRefused()
    {
        var binary = Path.Combine(_dir, "model.bin");
        File.WriteAllBytes(binary, Enumerable.Range(0, 20_000).Select(i => (byte)(i * 7 % 256)).ToArray());
        var (code, error) = Run(Tiny("--data", binary));
        OneErrorLine(code, error, "binary");
    }

    [Fact]
    public void UnknownTokenizerIsRefused() => OneErrorLine(Run(Tiny("--tokenizer", "sentencepiece")).Code, Run(Tiny("--tokenizer", "sentencepiece")).Error, "tokenizer");

    [Theory]
    [InlineData("--inner-steps", "0", "inner steps")]
    [InlineData("--lr", "-0.001", "learning rate")]
    [InlineData("--min-lr-ratio", "1.5", "min learning-rate ratio")]
    [InlineData("--algorithm", "fedavg", "algorithm")]
    [InlineData("--device", "tpu", "device")]
    [InlineData("--inner-optimizer", "sgd", "unknown inner optimizer 'sgd'")]
    [InlineData("--muon-lr", "-0.02", "--muon-lr -0.02")]
    public void ImpossibleValuesAreRefused(string option, string value, string expected)
    {
        var (code, error) = Run(Tiny(option, value));
        OneErrorLine(code, error, expected);
    }

    [Fact]
    public void ConfigWithUnknownKeyIsRefused()
    {
        var config = Path.Combine(_dir, "config.json");
        File.WriteAllText(config, "{ \"inner-steps\": 10, \"learning_rat\": 0.1 }");
        var (code, error) = Run(Tiny("--config", config));
        OneErrorLine(code, error, "unknown key 'learning_rat'");
    }

    [Fact]
    public void ConfigValuesApplyAndImpossibleOnesAreRefused()
    {
        var config = Path.Combine(_dir, "h0.json");
        File.WriteAllText(config, "{ \"lr\": -0.5 }");
        var (code, error) = Run(Tiny("--config", config));
        OneErrorLine(code, error, "learning rate");
    }

    [Fact]
    public void CorruptOrTruncatedCheckpointIsRefusedAndGoodOneNeverOverwritten()
    {
        var checkpoint = Path.Combine(_dir, "run.ckpt");
        Assert.Equal(0, Run(Tiny("--checkpoint", checkpoint)).Code);
        var good = File.ReadAllBytes(checkpoint);

        // A new run must not silently replace a finished one.
        OneErrorLine(Run(Tiny("--checkpoint", checkpoint)).Code, Run(Tiny("--checkpoint", checkpoint)).Error, "already exists");
        Assert.Equal(good, File.ReadAllBytes(checkpoint));

        var corrupt = Path.Combine(_dir, "corrupt.ckpt");
        var bytes = (byte[])good.Clone();
        bytes[bytes.Length / 3] ^= 1;
        File.WriteAllBytes(corrupt, bytes);
        var (code, error) = Run(Tiny("--checkpoint", corrupt, "--resume", "--steps", "8"));
        OneErrorLine(code, error, "checksum");
        Assert.Equal(bytes, File.ReadAllBytes(corrupt));

        var truncated = Path.Combine(_dir, "truncated.ckpt");
        File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
        (code, error) = Run(Tiny("--checkpoint", truncated, "--resume", "--steps", "8"));
        OneErrorLine(code, error, "truncated");
    }

    [Fact]
    public void JsonResultHasTheFieldsScriptsRead()
    {
        var saved = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        int code;
        try { code = Run(Tiny("--json")).Code; }
        finally { Console.SetOut(saved); }
        Assert.Equal(0, code);
        using var json = System.Text.Json.JsonDocument.Parse(output.ToString());
        foreach (var field in new[] { "algorithm", "replicas", "inner_steps", "tokens", "val_loss", "bytes_sent_per_replica", "wall_seconds" })
            Assert.True(json.RootElement.TryGetProperty(field, out _), $"missing {field}");
        // One validation batch of 2 x 16: what each evaluation predicted, so a reader can judge the loss's precision.
        Assert.Equal(32, json.RootElement.GetProperty("validation_tokens").GetInt64());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
