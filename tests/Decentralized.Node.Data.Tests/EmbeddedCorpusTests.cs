using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Decentralized.Node.Data.Tests;

public class EmbeddedCorpusTests
{
    // Real markup: closing doc tags, doc tags with attributes, attribute syntax, self-closing
    // tails. Generic type names such as Nullable<c> or IEnumerable<T> are legitimate prose, and
    // so is XML quoted as an example ("<item/>").
    private static readonly Regex Markup = new(
        @"</(summary|remarks|returns|param|typeparam|see|para|exception|xref)>|<(see|paramref|typeparamref|seealso|xref|para)\s|\b(cref|langword|uid)=""|""/>",
        RegexOptions.Compiled);

    private readonly ITestOutputHelper _output;

    public EmbeddedCorpusTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void FindsTheSdkReferenceDocumentation()
    {
        var folder = EmbeddedCorpus.Locate();
        Assert.True(Directory.Exists(folder));
        Assert.Contains(EmbeddedCorpus.Files(), f => Path.GetFileName(f) == "System.Runtime.xml");
        Assert.StartsWith("embedded:", EmbeddedCorpus.SourceKey());
        _output.WriteLine($"{EmbeddedCorpus.Describe()} at {folder}");
    }

    [Fact]
    public void YieldsMegabytesOfProseWithoutMarkupAndTokenizesInSeconds()
    {
        var clock = Stopwatch.StartNew();
        long chars = 0, documents = 0, tokens = 0;
        var tokenizer = new ByteTokenizer();
        string? sample = null;
        foreach (var document in EmbeddedCorpus.Documents())
        {
            var markup = Markup.Match(document);
            Assert.False(markup.Success, $"markup left: ...{Around(document, markup.Index)}...");
            chars += document.Length;
            tokens += tokenizer.Encode(document).Length + 2;
            documents++;
            sample ??= document;
        }

        clock.Stop();
        _output.WriteLine($"{documents} documents, {chars / 1e6:F1} M chars, {tokens / 1e6:F1} M byte tokens in {clock.Elapsed.TotalSeconds:F1} s; first: {sample}");
        Assert.True(chars > 1_000_000, $"only {chars} chars");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("byte")]
    [InlineData("gpt2")]
    public void EmbeddedCorpusTokenizesOnceIntoTheCache(string tokenizerId)
    {
        using var temp = new TempFolder();
        var tokenizer = Tokenizers.Create(tokenizerId);
        var clock = Stopwatch.StartNew();
        var built = TokenCache.GetOrBuildEmbedded(temp.Path, tokenizer, _output.WriteLine);
        var buildTime = clock.Elapsed;
        clock.Restart();
        var reused = TokenCache.GetOrBuildEmbedded(temp.Path, tokenizer, _output.WriteLine);
        var reuseTime = clock.Elapsed;

        var entropy = CorpusStatistics.UnigramEntropyNats(built.Tokens.Span);
        var dataset = new TokenDataset(built);
        _output.WriteLine(
            $"{tokenizerId}: {built.Count} tokens, file {new FileInfo(built.Path!).Length / 1e6:F1} MB, build {buildTime.TotalSeconds:F1} s, reuse {reuseTime.TotalSeconds:F2} s, " +
            $"unigram entropy {entropy:F3} nats, {dataset.ChunkCount} chunks, {dataset.ValidationChunks.Count} validation");
        Assert.Equal(built.Count, reused.Count);
        Assert.True(built.Tokens.Span.SequenceEqual(reused.Tokens.Span));
        Assert.True(reuseTime < buildTime, $"reuse {reuseTime} was not faster than build {buildTime}");
        Assert.InRange(entropy, 1.0, Math.Log(tokenizer.VocabSize));
    }

    private static string Around(string text, int index)
    {
        var start = Math.Max(0, index - 60);
        return text[start..Math.Min(text.Length, index + 60)];
    }
}
