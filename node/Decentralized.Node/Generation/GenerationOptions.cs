namespace Decentralized.Node.Generation;

/// <summary>How <see cref="TextGenerator"/> samples.</summary>
/// <param name="MaxTokens">Tokens to generate. Raise it for longer text; each costs one cached forward step.</param>
/// <param name="Temperature">Softmax temperature; 0 picks the most likely token every time (greedy). Lower is safer, higher more varied.</param>
/// <param name="TopK">Sample only among the K most likely tokens (0: all). 40 is a common choice against rare garbage.</param>
/// <param name="TopP">Nucleus sampling: the smallest set of tokens whose probability reaches P (1: all).</param>
/// <param name="Seed">Seed of the sampler: the same model, prompt, options and seed give the same text.</param>
public sealed record GenerationOptions(int MaxTokens = 200, double Temperature = 0.8, int TopK = 0, double TopP = 1.0, int Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public GenerationOptions Validate()
    {
        if (MaxTokens is < 0 or > 1_000_000) throw new ArgumentException("--max-tokens must be between 0 and 1000000");
        if (!(Temperature >= 0) || !double.IsFinite(Temperature)) throw new ArgumentException("--temperature must be 0 (greedy) or positive");
        if (TopK < 0) throw new ArgumentException("--top-k must be 0 (off) or positive");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException("--top-p must be in (0, 1]");
        return this;
    }
}
