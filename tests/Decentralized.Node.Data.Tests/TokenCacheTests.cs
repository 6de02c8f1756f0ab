namespace Decentralized.Node.Data.Tests;

public class TokenCacheTests
{
    private static readonly ITokenizer Bytes = new ByteTokenizer();

    [Fact]
    public void BuildsOnceThenReusesTheCachedFile()
    {
        using var temp = new TempFolder();
        var builds = 0;
        IEnumerable<string> Documents()
        {
            builds++;
            return ["alpha", "beta"];
        }

        var cache = Path.Combine(temp.Path, "cache");
        var first = TokenCache.GetOrBuild(cache, "test:1", "test corpus", Documents, Bytes);
        var written = File.GetLastWriteTimeUtc(first.Path!);
        var second = TokenCache.GetOrBuild(cache, "test:1", "test corpus", Documents, Bytes);

        Assert.Equal(1, builds);
        Assert.Equal(first.Path, second.Path);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second.Path!));
        Assert.Equal("alpha\n\nbeta", Bytes.Decode(second.Tokens.ToArray().Select(t => (int)t).ToArray()));
        Assert.Equal("byte", second.TokenizerId);
        Assert.Equal("test corpus", second.Source);
        Assert.Empty(Directory.GetFiles(cache, "*.tmp"));
    }

    [Fact]
    public async Task ConcurrentBuildersOfOneEntryTokenizeOnce()
    {
        using var temp = new TempFolder();
        var builds = 0;
        using var firstIsBuilding = new ManualResetEventSlim();
        using var secondIsWaiting = new ManualResetEventSlim();
        IEnumerable<string> Documents()
        {
            Interlocked.Increment(ref builds);
            firstIsBuilding.Set();
            Assert.True(secondIsWaiting.Wait(TimeSpan.FromSeconds(30)), "second builder never waited for the lock");
            return ["shared corpus"];
        }

        var first = Task.Run(() => TokenCache.GetOrBuild(temp.Path, "shared", "shared", Documents, Bytes));
        Assert.True(firstIsBuilding.Wait(TimeSpan.FromSeconds(30)));
        var second = Task.Run(() => TokenCache.GetOrBuild(temp.Path, "shared", "shared", Documents, Bytes, line =>
        {
            if (line.Contains("waiting for another process", StringComparison.Ordinal))
            {
                secondIsWaiting.Set();
            }
        }));

        var files = await Task.WhenAll(first, second);
        Assert.Equal(1, builds);
        Assert.Equal(files[0].Tokens.ToArray(), files[1].Tokens.ToArray());
    }

    [Fact]
    public void DifferentSourceOrTokenizerGetsItsOwnEntry()
    {
        using var temp = new TempFolder();
        var a = TokenCache.CachePath(temp.Path, "source:a", Bytes);
        var b = TokenCache.CachePath(temp.Path, "source:b", Bytes);
        var c = TokenCache.CachePath(temp.Path, "source:a", new Gpt2Tokenizer());
        Assert.Equal(3, new[] { a, b, c }.Distinct().Count());
    }

    [Fact]
    public void Gpt2SeparatesDocumentsWithEndOfText()
    {
        using var temp = new TempFolder();
        var file = TokenCache.Build(Path.Combine(temp.Path, "g.dctk"), ["Hello world", "Hello world"], new Gpt2Tokenizer(), "two docs");
        Assert.Equal(new ushort[] { 15496, 995, 50256, 15496, 995 }, file.Tokens.ToArray());
        Assert.Equal(50257, file.VocabSize);
    }

    [Theory]
    [InlineData(20)] // a token byte
    [InlineData(-5)] // inside the checksum
    [InlineData(9)] // the vocabulary size in the header
    public void CorruptCacheIsDetectedAndRebuilt(int offset)
    {
        using var temp = new TempFolder();
        var builds = 0;
        IEnumerable<string> Documents()
        {
            builds++;
            return ["some text to cache"];
        }

        var path = TokenCache.GetOrBuild(temp.Path, "k", "k", Documents, Bytes).Path!;
        var bytes = File.ReadAllBytes(path);
        var at = offset >= 0 ? offset : bytes.Length + offset;
        bytes[at] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<DataException>(() => TokenFile.Open(path));
        Assert.Contains("corrupt", error.Message);

        var logs = new List<string>();
        var rebuilt = TokenCache.GetOrBuild(temp.Path, "k", "k", Documents, Bytes, logs.Add);
        Assert.Equal(2, builds);
        Assert.Equal("some text to cache".Length, rebuilt.Count);
        Assert.Contains(logs, l => l.Contains("rebuilding"));
    }

    [Fact]
    public void TruncatedFileIsCorrupt()
    {
        using var temp = new TempFolder();
        var path = TokenCache.Build(Path.Combine(temp.Path, "t.dctk"), ["0123456789"], Bytes, "t").Path!;
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^7]);
        var error = Assert.Throws<DataException>(() => TokenFile.Open(path));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void HeaderClaimingHugeCountIsRejectedBeforeAllocating()
    {
        using var temp = new TempFolder();
        var header = TokenFileFormat.Encode(256, "byte", "x", TokenFileFormat.MaxTokens);
        var path = temp.WriteBytes("huge.dctk", [.. header, 1, 2, 3]);
        var error = Assert.Throws<DataException>(() => TokenFile.Open(path));
        Assert.Contains("header implies", error.Message);
    }

    [Fact]
    public void GarbageFileIsNotATokenFile()
    {
        using var temp = new TempFolder();
        var path = temp.Write("x.dctk", "hello");
        Assert.Contains("bad magic", Assert.Throws<DataException>(() => TokenFile.Open(path)).Message);
        Assert.Contains("does not exist", Assert.Throws<DataException>(() => TokenFile.Open(Path.Combine(temp.Path, "none"))).Message);
    }

    [Fact]
    public void EditingACorpusFileChangesTheKey()
    {
        using var temp = new TempFolder();
        var file = temp.Write("c/a.txt", "one");
        var before = TokenCache.PathSourceKey(Path.Combine(temp.Path, "c"));
        File.WriteAllText(file, "one two");
        var after = TokenCache.PathSourceKey(Path.Combine(temp.Path, "c"));
        Assert.NotEqual(before, after);
    }

    [Fact]
    public void PathCorpusBuildsThroughTheCache()
    {
        using var temp = new TempFolder();
        temp.Write("c/a.txt", "first");
        temp.Write("c/b.jsonl", "{\"text\":\"second\"}\n");
        var file = TokenCache.GetOrBuildFromPath(Path.Combine(temp.Path, "cache"), Path.Combine(temp.Path, "c"), Bytes);
        Assert.Equal("first\n\nsecond", Bytes.Decode(file.Tokens.ToArray().Select(t => (int)t).ToArray()));
    }

    [Fact]
    public void BinaryFilesInAFolderAreSkippedWithOneLineAndLeftOutOfTheKey()
    {
        using var temp = new TempFolder();
        temp.Write("c/a.txt", "first");
        temp.WriteBytes("c/z.bin", [1, 0, 2, 0]);
        var corpus = Path.Combine(temp.Path, "c");
        var lines = new List<string>();
        var file = TokenCache.GetOrBuildFromPath(Path.Combine(temp.Path, "cache"), corpus, Bytes, log: lines.Add);
        Assert.Equal("first", Bytes.Decode(file.Tokens.ToArray().Select(t => (int)t).ToArray()));
        Assert.Contains(lines, l => l.Contains("skipped 1 file that is not text (z.bin)"));
        string key = TokenCache.PathSourceKey(corpus);
        temp.WriteBytes("c/z.bin", [1, 0, 2, 0, 3]);   // a changed index does not invalidate the tokens
        Assert.Equal(key, TokenCache.PathSourceKey(corpus));
    }

    [Fact]
    public void ABinaryFileGivenDirectlyFailsBeforeTokenizing()
    {
        using var temp = new TempFolder();
        var file = temp.WriteBytes("z.bin", [1, 0, 2, 0]);
        Assert.Contains("z.bin", Assert.Throws<DataException>(() => CorpusSource.CheckFiles(file)).Message);
        var error = Assert.Throws<DataException>(() => TokenCache.GetOrBuildFromPath(Path.Combine(temp.Path, "cache"), file, Bytes));
        Assert.Contains("z.bin", error.Message);
    }

    [Fact]
    public void EmptyDocumentSequenceIsAnEmptyCorpus()
    {
        using var temp = new TempFolder();
        var error = Assert.Throws<DataException>(() => TokenCache.GetOrBuild(temp.Path, "e", "corpus e", () => [], Bytes));
        Assert.Contains("empty", error.Message);
        Assert.DoesNotContain(Directory.GetFiles(temp.Path), f => f.EndsWith(".dctk", StringComparison.Ordinal) || f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void UnigramEntropyMatchesClosedForms()
    {
        Assert.Equal(Math.Log(4), CorpusStatistics.UnigramEntropyNats(new ushort[] { 1, 2, 3, 4, 4, 3, 2, 1 }), 12);
        Assert.Equal(0.0, CorpusStatistics.UnigramEntropyNats(new ushort[] { 7, 7, 7 }));
        Assert.Equal(1.0, CorpusStatistics.UnigramEntropyBits(new ushort[] { 0, 65535 }), 12);
    }
}
