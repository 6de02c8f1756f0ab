using System.Text;
using Xunit.Abstractions;

namespace Decentralized.Node.Data.Tests;

public class HeldOutSplitTests
{
    private const string Shared = "See the remarks section for how this member behaves on every platform.";
    private static readonly ITokenizer Bytes = new ByteTokenizer();
    private static readonly DatasetSplitOptions Split = new() { ChunkTokens = 256, ValidationFraction = 0.3 };
    private readonly ITestOutputHelper _output;

    public HeldOutSplitTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void AFolderIsSplitByWholeFilesAsTheSeededRuleSays()
    {
        using var temp = new TempFolder();
        var files = WriteFolder(temp, 24);
        var split = TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache"), Path.Combine(temp.Path, "corpus"), Bytes, Split)!;

        var train = Text(split.Train.Tokens);
        var validation = Text(split.Validation.Tokens);
        var heldOut = files.Keys.Where(name => HeldOutSplit.IsValidation(name, Split)).ToList();
        Assert.InRange(heldOut.Count, 1, files.Count - 1);
        foreach (var (name, lines) in files)
        {
            var own = lines.Where(l => l != Shared).ToList();
            var (home, other) = heldOut.Contains(name) ? (validation, train) : (train, validation);
            Assert.All(own, line => Assert.Contains(line, home));
            Assert.All(own, line => Assert.DoesNotContain(line, other));
        }
    }

    [Fact]
    public void TheSplitIsTheSameForOneAndFourReplicasAndWhenDerivedAgain()
    {
        using var temp = new TempFolder();
        WriteFolder(temp, 24);
        var corpus = Path.Combine(temp.Path, "corpus");
        var first = Open(TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache-a"), corpus, Bytes, Split)!, out _);
        var again = Open(TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache-b"), corpus, Bytes, Split)!, out _);

        Assert.True(first.Tokens.Span.SequenceEqual(again.Tokens.Span));
        Assert.Equal(first.ValidationChunks, again.ValidationChunks);
        var one = first.Shard(7, 0, 1).Chunks;
        var four = Enumerable.Range(0, 4).SelectMany(r => again.Shard(7, r, 4).Chunks).Order();
        Assert.Equal(one, four);
        Assert.Empty(one.Intersect(first.ValidationChunks));
        Assert.Equal(Batches(first), Batches(again));
    }

    [Fact]
    public void TheOverlapIsMeasuredOnTheTextAndSeenLinesAreDropped()
    {
        using var temp = new TempFolder();
        var files = WriteFolder(temp, 24);
        var split = TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache"), Path.Combine(temp.Path, "corpus"), Bytes, Split)!;
        var dataset = Open(split, out var overlap);

        // By hand: a held-out file's lines are its own (never in training) and the shared line (in training too).
        var heldOut = files.Where(f => HeldOutSplit.IsValidation(f.Key, Split)).SelectMany(f => f.Value).ToList();
        long Size(IEnumerable<string> lines) => lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l));
        Assert.Equal(Size(heldOut), overlap.LineBytes);
        Assert.Equal(Size(heldOut.Where(l => l == Shared)), overlap.SeenLineBytes);
        Assert.Equal(overlap.SeenLineBytes, overlap.DroppedLineBytes);
        Assert.True(overlap.SeenLineBytes > 0, "the corpus repeats a line in held-out files");

        var validation = string.Concat(dataset.ValidationChunks.Select(c => Text(dataset.Chunk(c))));
        Assert.DoesNotContain(Shared, validation);
        Assert.All(heldOut.Where(l => l != Shared), line => Assert.Contains(line, validation));
        var after = ValidationOverlap.Measure(dataset, Bytes);
        Assert.Equal(0, after.SeenLineBytes);
        Assert.Equal(overlap.LineBytes - overlap.DroppedLineBytes, after.LineBytes);
    }

    [Fact]
    public void JsonlRecordsAreHeldOutWhole()
    {
        using var temp = new TempFolder();
        var records = Enumerable.Range(0, 40).Select(i => $"record {i} says {Words(i, 30)}").ToList();
        var path = temp.Write("corpus.jsonl", string.Join("\n", records.Select(r => $"{{\"text\": \"{r}\"}}")));
        var split = TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache"), path, Bytes, Split)!;

        var validation = Text(split.Validation.Tokens);
        var train = Text(split.Train.Tokens);
        for (var i = 0; i < records.Count; i++)
        {
            var held = HeldOutSplit.IsValidation($"corpus.jsonl#{i + 1}", Split);
            Assert.Equal(held, validation.Contains(records[i], StringComparison.Ordinal));
            Assert.Equal(!held, train.Contains(records[i], StringComparison.Ordinal));
        }
    }

    [Fact]
    public void ACorpusOfOneDocumentHasNoHeldOutSplit()
    {
        using var temp = new TempFolder();
        var path = temp.Write("one.txt", Words(1, 400));
        Assert.Null(TokenCache.GetOrBuildHeldOutFromPath(Path.Combine(temp.Path, "cache"), path, Bytes, Split with { ValidationFraction = 0.02, SplitSeed = 3 }));
    }

    [Fact]
    public void OnTheEmbeddedCorpusHoldingOutAssembliesLeavesLittleValidationTextSeenInTraining()
    {
        using var temp = new TempFolder();
        var split = DatasetSplitOptions.Default;
        var byChunk = new TokenDataset(TokenCache.GetOrBuildEmbedded(temp.Path, Bytes, _output.WriteLine), split with { Unit = DatasetSplitUnit.Chunk });
        var chunkOverlap = ValidationOverlap.Measure(byChunk, Bytes);
        var files = TokenCache.GetOrBuildEmbeddedHeldOut(temp.Path, Bytes, split, _output.WriteLine);
        Assert.NotNull(files);
        var kept = ValidationOverlap.DropSeenLines(files.Train.Tokens, files.Validation.Tokens, Bytes, out var documentOverlap);
        var assemblies = EmbeddedCorpus.Files().Select(Path.GetFileName).Where(f => HeldOutSplit.IsValidation(f!, split));
        _output.WriteLine($"chunk split: {byChunk.ValidationTokenCount:N0} validation tokens; {chunkOverlap.Describe()}");
        _output.WriteLine($"document split ({string.Join(", ", assemblies)}): {files.Validation.Count:N0} -> {kept.Length:N0} validation tokens, {files.Train.Count:N0} training; {documentOverlap.Describe()}");

        Assert.InRange(chunkOverlap.SeenFraction, 0.30, 0.60);
        Assert.True(documentOverlap.SeenFraction < chunkOverlap.SeenFraction / 3, $"document split {documentOverlap.SeenFraction:P1} vs chunk {chunkOverlap.SeenFraction:P1}");
        Assert.True(kept.Length > 50_000, $"{kept.Length} validation tokens left");
    }

    private static TokenDataset Open(HeldOutFiles split, out ValidationOverlap overlap)
    {
        var kept = ValidationOverlap.DropSeenLines(split.Train.Tokens, split.Validation.Tokens, Bytes, out overlap);
        return TokenDataset.HeldOut(split.Train.Tokens.Span, kept, 256, Split);
    }

    private static List<long[]> Batches(TokenDataset dataset)
    {
        var v = dataset.Validation(2, 32, 8);
        return Enumerable.Range(0, v.BatchCount).Select(i =>
        {
            var buffer = new long[v.BatchElements];
            v.Fill(i, buffer);
            return buffer;
        }).ToList();
    }

    // Files of unique lines; every third file also carries the shared boilerplate line.
    private static Dictionary<string, List<string>> WriteFolder(TempFolder temp, int count)
    {
        var files = new Dictionary<string, List<string>>();
        for (var i = 0; i < count; i++)
        {
            var lines = Enumerable.Range(0, 12).Select(j => $"file {i} line {j}: {Words((i * 100) + j, 8)}").ToList();
            if (i % 3 == 0)
            {
                lines.Insert(5, Shared);
            }

            var name = $"doc{i:D2}.txt";
            temp.Write(Path.Combine("corpus", name), string.Join("\n", lines));
            files[name] = lines;
        }

        return files;
    }

    private static string Words(int seed, int count)
    {
        var rng = new Random(seed);
        string[] vocabulary = ["alpha", "beta", "gamma", "delta", "kappa", "sigma", "omega", "theta", "lambda", "zeta"];
        return string.Join(' ', Enumerable.Range(0, count).Select(_ => vocabulary[rng.Next(vocabulary.Length)]));
    }

    private static string Text(ReadOnlyMemory<ushort> tokens) => Bytes.Decode(tokens.ToArray().Select(t => (int)t).ToArray());
}
