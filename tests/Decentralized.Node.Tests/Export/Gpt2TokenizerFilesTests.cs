using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Decentralized.Node.Data;
using Decentralized.Node.Export;
using Decentralized.Node.Generation;
using Decentralized.Node.Model;

namespace Decentralized.Node.Tests.Export;

/// <summary>
/// The GPT-2 tokenizer files an export writes are the ones transformers' GPT2Tokenizer reads: applying their merges the way
/// GPT-2's encoder.py does gives exactly the ids our tokenizer gives.
/// </summary>
public sealed class Gpt2TokenizerFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpt2-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MergesAndVocabularyReproduceOurTokenizer()
    {
        Gpt2TokenizerFiles.Write(_dir, 1024);
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(_dir, "vocab.json")))!;
        var merges = File.ReadAllLines(Path.Combine(_dir, "merges.txt"));
        Assert.Equal(50257, vocab.Count);
        Assert.Equal(50256, vocab["<|endoftext|>"]);
        Assert.Equal("#version: 0.2", merges[0]);
        Assert.Equal(50000, merges.Length - 1);
        var ranks = merges.Skip(1).Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer_config.json"))).RootElement;
        Assert.Equal("GPT2Tokenizer", config.GetProperty("tokenizer_class").GetString());

        var ours = new Gpt2Tokenizer();
        foreach (var text in new[] { "Hello world, it's decentralized training!", " The peers'll average 12345 weights\n\n  twice.", "naïve café — 日本語 ✓ emoji 🙂" })
            Assert.Equal(ours.Encode(text), Encode(text, vocab, ranks));
    }

    [Fact]
    public void AGpt2VocabularyModelExportsWithTokenizerFilesAndLoadsBack()
    {
        var config = new ModelConfig(VocabSize: 50257, Dim: 16, Layers: 1, Heads: 2, ContextLength: 16);
        using (var model = new ModelStage(config, seed: 3)) HfLlamaDirectory.Write(model, "gpt2", _dir);
        foreach (var name in new[] { "config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
            Assert.True(File.Exists(Path.Combine(_dir, name)), name);
        using var loaded = LoadedModel.Load(_dir);
        Assert.Equal("gpt2", loaded.Tokenizer.Id);
        Assert.Equal(config.ParameterCount, loaded.Model.parameters().Sum(p => p.numel()));
    }

    // GPT-2's encoder.py: split by its pattern, map bytes to printable characters, apply the lowest-ranked merge until none applies.
    private static int[] Encode(string text, Dictionary<string, int> vocab, Dictionary<string, int> ranks)
    {
        var pattern = new Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");
        var unicode = Gpt2TokenizerFiles.ByteToUnicode();
        var ids = new List<int>();
        foreach (Match m in pattern.Matches(text))
        {
            var parts = Encoding.UTF8.GetBytes(m.Value).Select(b => unicode[b].ToString()).ToList();
            while (parts.Count > 1)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (ranks.TryGetValue(parts[i] + " " + parts[i + 1], out int r) && r < bestRank) (best, bestRank) = (i, r);
                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            ids.AddRange(parts.Select(p => vocab[p]));
        }
        return ids.ToArray();
    }
}
