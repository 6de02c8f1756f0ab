using System.Text;

namespace Decentralized.Node.Data.Tests;

public class CorpusSourceTests
{
    [Fact]
    public void TextFileIsOneTrimmedDocumentWithUnixNewlines()
    {
        using var temp = new TempFolder();
        var file = temp.Write("a.txt", "\r\n  First line.\r\nSecond line.\rThird.\n\n");
        var documents = CorpusSource.Documents(file).ToList();
        Assert.Equal(["First line.\nSecond line.\nThird."], documents);
    }

    [Fact]
    public void FolderIsReadRecursivelyInOrdinalOrderSkippingHiddenEntries()
    {
        using var temp = new TempFolder();
        temp.Write("b.txt", "bee");
        temp.Write("a/z.md", "zed");
        temp.Write("a/c.txt", "sea");
        temp.Write(".hidden.txt", "secret");
        temp.Write(".git/config", "secret");
        temp.Write("data.jsonl", "{\"text\":\"json one\"}\n\n{\"text\":\"json two\",\"id\":2}\n");
        var documents = CorpusSource.Documents(temp.Path).ToList();
        Assert.Equal(["sea", "zed", "bee", "json one", "json two"], documents);
    }

    [Fact]
    public void JsonlYieldsTheTextFieldOfEachLine()
    {
        using var temp = new TempFolder();
        var file = temp.Write("c.jsonl", "{\"text\": \"line \\u00e9 one\"}\r\n{\"meta\": 1, \"text\": \"two\"}\n   \n{\"text\":\"three\"}");
        Assert.Equal(["line é one", "two", "three"], CorpusSource.Documents(file).ToList());
    }

    [Fact]
    public void LongTextIsCutAtParagraphBreaksWithinTheDocumentLimit()
    {
        using var temp = new TempFolder();
        var paragraph = new string('x', 300) + "\n\n";
        var file = temp.Write("long.txt", string.Concat(Enumerable.Repeat(paragraph, 20)));
        var options = new CorpusOptions { MaxDocumentChars = 1024 };
        var documents = CorpusSource.Documents(file, options).ToList();
        Assert.True(documents.Count > 1);
        Assert.All(documents, d => Assert.True(d.Length <= 1024));
        Assert.All(documents, d => Assert.DoesNotContain("xx\nx", d));
        Assert.Equal(20 * 300, documents.Sum(d => d.Count(c => c == 'x')));
    }

    [Fact]
    public void Utf16WithByteOrderMarkIsText()
    {
        using var temp = new TempFolder();
        var bytes = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("wide text")).ToArray();
        var file = temp.WriteBytes("w.txt", bytes);
        Assert.Equal(["wide text"], CorpusSource.Documents(file).ToList());
    }

    [Fact]
    public void EmptyFileIsAnEmptyCorpus()
    {
        using var temp = new TempFolder();
        var file = temp.Write("empty.txt", "  \n\n ");
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(file).ToList());
        Assert.Contains("is empty", error.Message);
        Assert.Contains("empty.txt", error.Message);
    }

    [Fact]
    public void EmptyFolderIsAnEmptyCorpus()
    {
        using var temp = new TempFolder();
        temp.Write(".only-hidden", "text");
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(temp.Path).ToList());
        Assert.Contains("no visible files", error.Message);
    }

    [Fact]
    public void MissingPathSaysSoImmediately()
    {
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents("/nonexistent/corpus/path"));
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void AFolderSkipsWhatIsNotTextAndNamesIt()
    {
        using var temp = new TempFolder();
        temp.Write("a.txt", "fine text");
        temp.WriteBytes("b.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D]);
        temp.WriteBytes("sub/c.dat", [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x5C]);
        Assert.Equal(["fine text"], CorpusSource.Documents(temp.Path).ToList());
        var files = CorpusSource.Scan(temp.Path);
        Assert.Equal(["b.png", "sub/c.dat"], files.Skipped);
        var line = files.SkipSummary("docs/")!;
        Assert.Contains("skipped 2 files that are not text (b.png, sub/c.dat)", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void ALinkToAFileOfTheSameFolderIsReadOnce()
    {
        using var temp = new TempFolder();
        var art = temp.Write("art", "one fortune");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "art.u8"), art);
        Assert.Equal(["one fortune"], CorpusSource.Documents(temp.Path).ToList());
    }

    [Fact]
    public void AFolderWithNoTextLeftIsRefusedNamingWhatWasSkipped()
    {
        using var temp = new TempFolder();
        temp.WriteBytes("b.png", [0x89, 0x50, 0x4E, 0x47, 0x00]);
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(temp.Path).ToList());
        Assert.Contains("no text files", error.Message);
        Assert.Contains("b.png", error.Message);
    }

    [Fact]
    public void ABinaryFileGivenDirectlyIsRejectedByName()
    {
        using var temp = new TempFolder();
        var file = temp.WriteBytes("b.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D]);
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(file).ToList());
        Assert.Contains("b.png", error.Message);
        Assert.Contains("binary", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Latin1FileIsRejectedAsNotUtf8()
    {
        using var temp = new TempFolder();
        var latin1 = Encoding.Latin1.GetBytes(string.Concat(Enumerable.Repeat("Ça déjà été très élégant. ", 20)));
        var file = temp.WriteBytes("fr.txt", latin1);
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(file).ToList());
        Assert.Contains("not UTF-8", error.Message);
    }

    [Theory]
    [InlineData("{\"text\": \"ok\"}\n{not json}\n", 2, "invalid JSON")]
    [InlineData("{\"text\": \"ok\"}\n\n{\"body\": \"no text field\"}\n", 3, "no string field \"text\"")]
    [InlineData("[1, 2, 3]\n", 1, "expected a JSON object")]
    [InlineData("{\"text\": 42}\n", 1, "no string field")]
    public void BadJsonlLineIsReportedWithFileAndLine(string content, int line, string expected)
    {
        using var temp = new TempFolder();
        var file = temp.Write("bad.jsonl", content);
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(file).ToList());
        Assert.Contains($"bad.jsonl:{line}:", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void OverlongJsonlLineIsRefusedBeforeBuffering()
    {
        using var temp = new TempFolder();
        var file = temp.Write("huge.jsonl", "{\"text\": \"" + new string('a', 5000) + "\"}\n");
        var error = Assert.Throws<DataException>(() => CorpusSource.Documents(file, new CorpusOptions { MaxLineChars = 1000 }).ToList());
        Assert.Contains("huge.jsonl:1:", error.Message);
        Assert.Contains("longer than 1000", error.Message);
    }
}
