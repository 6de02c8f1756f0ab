namespace Decentralized.Node.Data.Tests;

public class TokenizerTests
{
    [Theory]
    [InlineData("")]
    [InlineData("Hello, world!\n")]
    [InlineData("Grüße, 東京, emoji 🚀 and tabs\t.")]
    public void ByteTokenizerRoundTrips(string text)
    {
        var tokenizer = Tokenizers.Create("byte");
        var ids = tokenizer.Encode(text);
        Assert.Equal(256, tokenizer.VocabSize);
        Assert.All(ids, id => Assert.InRange(id, 0, 255));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Gpt2EncodesKnownIds()
    {
        var tokenizer = Tokenizers.Create("gpt2");
        Assert.Equal("gpt2", tokenizer.Id);
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal([15496, 995], tokenizer.Encode("Hello world"));
        Assert.Equal([Gpt2Tokenizer.EndOfText], tokenizer.DocumentSeparator);
    }

    [Fact]
    public void Gpt2RoundTrips()
    {
        var tokenizer = Tokenizers.Create(" GPT2 ");
        const string text = "The quick brown fox jumps over the lazy dog. Grüße!";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Theory]
    [InlineData("bpe")]
    [InlineData("")]
    public void UnknownTokenizerNamesTheValidOnes(string id)
    {
        var error = Assert.Throws<DataException>(() => Tokenizers.Create(id));
        Assert.Contains("unknown tokenizer", error.Message);
        Assert.Contains("byte, gpt2", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ByteDecodeRejectsOutOfRangeIds()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ByteTokenizer().Decode([65, 300]));
    }
}
