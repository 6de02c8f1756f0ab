using Decentralized.Node.Data;
using Decentralized.Node.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Generation;

/// <summary>
/// Samples text from a trained model, one token per cached forward step (<see cref="KvCache"/>).
/// <code>
/// using var loaded = LoadedModel.Load(dataDir);
/// foreach (var piece in new TextGenerator(loaded.Model, loaded.Tokenizer).Generate("The peer", new GenerationOptions(Seed: 1)))
///     Console.Write(piece);
/// </code>
/// When the sequence reaches the model's context length, the cache is rebuilt from the last half of it (the model
/// never saw positions past its context), so generation can run past the context at the cost of one re-read.
/// </summary>
public sealed class TextGenerator(ModelStage model, ITokenizer tokenizer)
{
    private readonly Device _device = model.parameters().First().device;

    /// <summary>
    /// Yields decoded text as it is sampled. A piece is held back while it ends inside a multi-byte UTF-8 character, so
    /// concatenating the pieces gives the decoded generated tokens. An empty prompt starts from the document separator.
    /// </summary>
    public IEnumerable<string> Generate(string prompt, GenerationOptions options)
    {
        var pending = new List<int>();
        foreach (var token in GenerateTokens(prompt, options))
        {
            pending.Add(token);
            var text = tokenizer.Decode(pending.ToArray());
            // Wait for the rest of a split character (at most 3 more bytes); give up after that.
            if (!text.EndsWith('\uFFFD') || pending.Count >= 4)
            {
                pending.Clear();
                yield return text;
            }
        }
        if (pending.Count > 0) yield return tokenizer.Decode(pending.ToArray());
    }

    /// <summary>The sampled token ids, exactly <see cref="GenerationOptions.MaxTokens"/> of them, as they are drawn.</summary>
    public IEnumerable<int> GenerateTokens(string prompt, GenerationOptions options)
    {
        options.Validate();
        int context = model.Config.ContextLength;
        var tokens = tokenizer.Encode(prompt).ToList();
        if (tokens.Count == 0) tokens.AddRange(tokenizer.DocumentSeparator);
        if (tokens.Count >= context) tokens.RemoveRange(0, tokens.Count - (context - 1));
        var sampler = new TokenSampler(options);
        var cache = new KvCache(model.Config.Layers);
        try
        {
            float[] logits = Step(ref cache, tokens, tokens.Count);
            for (int i = 0; i < options.MaxTokens; i++)
            {
                int next = sampler.Next(logits);
                tokens.Add(next);
                yield return next;
                if (i + 1 < options.MaxTokens) logits = Step(ref cache, tokens, 1);
            }
        }
        finally
        {
            cache.Dispose();
        }
    }

    /// <summary>Feeds the last <paramref name="fresh"/> tokens through the cached model; returns the last position's logits.</summary>
    private float[] Step(ref KvCache cache, List<int> tokens, int fresh)
    {
        if (cache.Length + fresh > model.Config.ContextLength)
        {
            cache.Dispose();
            cache = new KvCache(model.Config.Layers);
            fresh = model.Config.ContextLength / 2;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(tokens.Skip(tokens.Count - fresh).Select(t => (long)t).ToArray(), new long[] { 1, fresh }).to(_device);
        var logits = model.Forward(input, cache);                          // (1, T, V)
        return logits[0, fresh - 1].to(float32).cpu().data<float>().ToArray();
    }
}
