using System.Security.Cryptography;
using Decentralized.Tests.Fuzzing;
using Xunit.Abstractions;

namespace Decentralized.Node.Data.Tests;

/// <summary>
/// Fuzzing of the token cache's file reader through the shared <see cref="Fuzzer"/>: every input opens as a token
/// file or fails with <see cref="DataException"/>. Most inputs are resealed (checksum recomputed) so mutations of the
/// header and the tokens reach the checks behind the checksum.
/// </summary>
public sealed class TokenFileFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void TokenFile() => Fuzzer.CheckShort(Target(), output);

    [Fact]
    [Trait("Category", "Slow")]
    public void TokenFileAtScale() => Fuzzer.CheckAtScale(Target(), output);

    private static FuzzTarget Target()
    {
        var path = Fuzzer.ScratchFile("tokens.bin");
        byte[] Seed(string tokenizer, int vocab, int[] ids)
        {
            using (var writer = new TokenFileWriter(path, tokenizer, vocab, "fuzz seed"))
            {
                writer.Append(ids);
                writer.Commit();
            }
            return File.ReadAllBytes(path);
        }
        byte[][] seeds = [Seed("byte", 256, Enumerable.Range(0, 300).Select(i => i * 7 % 256).ToArray()), Seed("gpt2", 50257, [50256, 0, 1, 50000])];
        return new("token file", seeds, input =>
        {
            File.WriteAllBytes(path, input);
            Node.Data.TokenFile.Open(path);
        }, typeof(DataException)) { Reseal = Reseal };
    }

    /// <summary>Recomputes the trailing SHA-256 (over the tokens, then the header) where the header parses.</summary>
    private static byte[] Reseal(byte[] input)
    {
        TokenFileFormat.Header header;
        try { header = TokenFileFormat.Decode(input, "fuzz"); }
        catch (DataException) { return input; }
        if (input.Length < header.Length + TokenFileFormat.ChecksumBytes) return input;
        var output = (byte[])input.Clone();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(output.AsSpan(header.Length, output.Length - header.Length - TokenFileFormat.ChecksumBytes));
        hash.AppendData(output.AsSpan(0, header.Length));
        hash.GetHashAndReset(output.AsSpan(output.Length - TokenFileFormat.ChecksumBytes));
        return output;
    }
}
