using Decentralized.Node.Generation;
using Decentralized.Node.Tests.Daemon;

namespace Decentralized.Node.Tests.Export;

/// <summary>A daemon's data directory, as <c>swarm local</c> leaves it, loads for generation and exports; --export-every-rounds writes the same model.</summary>
[Collection("console")]
public sealed class NodeDataDirTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("node-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ADaemonsDataDirLoadsGeneratesAndExports()
    {
        var node = Path.Combine(_dir, "node");
        await using (var daemon = new DaemonProcess(node, ["--model", "tiny", "--batch-size", "4", "--seq-len", "32", "--inner-steps", "5", "--rounds", "2",
            "--device", "cpu", "--eval-batches", "1", "--cache-dir", Path.Combine(_dir, "cache"), "--export-every-rounds", "1"]))
            Assert.True(await daemon.WaitForExitAsync(TimeSpan.FromMinutes(4)) == 0, daemon.Log);

        using (var loaded = LoadedModel.Load(node))
        {
            Assert.Equal(64, loaded.Model.Config.Dim);   // the tiny preset, found from the parameter count
            Assert.Equal("byte", loaded.Tokenizer.Id);
            var tokens = new TextGenerator(loaded.Model, loaded.Tokenizer).GenerateTokens("the ", new GenerationOptions(MaxTokens: 10, Seed: 1)).ToArray();
            Assert.Equal(10, tokens.Length);
        }
        // An older checkpoint of the rotation (node.ckpt.1) is read as a daemon's checkpoint too.
        var rotated = Directory.CreateDirectory(Path.Combine(_dir, "rotated")).FullName;
        File.Copy(Path.Combine(node, "node.ckpt"), Path.Combine(rotated, "node.ckpt.1"));
        using (var older = LoadedModel.Load(Path.Combine(rotated, "node.ckpt.1")))
            Assert.Contains("node checkpoint", older.Origin);
        var (code, _, error) = TrainedExport.Run("export", node, "--out", Path.Combine(_dir, "hf"));
        Assert.True(code == 0, error);
        Assert.Contains("node checkpoint", error);
        // --export-every-rounds wrote the same model at exit as export reads from the checkpoint saved at exit.
        foreach (var name in new[] { "config.json", "model.safetensors" })
            Assert.True(File.ReadAllBytes(Path.Combine(_dir, "hf", name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(node, "model", name))), $"{name} differs");
    }
}
