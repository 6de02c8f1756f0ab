using System.Security.Cryptography;
using System.Text;

namespace Decentralized.Node.Model;

/// <summary>
/// Shape of the LLaMA-style decoder. Every peer of a swarm must agree on it byte for byte
/// (<see cref="Hash"/> is exchanged before any state is shared).
/// </summary>
/// <param name="VocabSize">Tokenizer vocabulary (256 for the byte tokenizer, 50257 for GPT-2).</param>
/// <param name="Dim">Residual width C. Change it to trade quality for speed.</param>
/// <param name="Layers">Decoder blocks, split contiguously over pipeline stages.</param>
/// <param name="Heads">Attention heads; must divide <paramref name="Dim"/>.</param>
/// <param name="MlpHidden">SwiGLU hidden width; 0 picks LLaMA's 8/3·C rounded up to a multiple of 32.</param>
/// <param name="ContextLength">Maximum sequence length T (sets the rotary table size).</param>
/// <param name="RopeTheta">Rotary base frequency.</param>
/// <param name="NormEps">RMSNorm epsilon.</param>
public sealed record ModelConfig(
    int VocabSize = 256,
    int Dim = 128,
    int Layers = 4,
    int Heads = 4,
    int MlpHidden = 0,
    int ContextLength = 128,
    double RopeTheta = 10000.0,
    double NormEps = 1e-5)
{
    /// <summary>About 0.9M parameters with the byte tokenizer: the size the local comparisons use.</summary>
    public static ModelConfig Small => new();

    /// <summary>About 0.13M parameters: fast enough for tests and simulations.</summary>
    public static ModelConfig Tiny => new(Dim: 64, Layers: 2, Heads: 4, ContextLength: 64);

    /// <summary>
    /// Every named shape (<c>--model NAME</c>). The larger ones are LLaMA-shaped (head width 64, SwiGLU at 8/3·C) and sized
    /// with GPT-2's vocabulary (use <c>--tokenizer gpt2</c>); the name is their parameter count with it.
    /// </summary>
    public static IReadOnlyDictionary<string, ModelConfig> Presets { get; } = new Dictionary<string, ModelConfig>
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["160m"] = new(VocabSize: 50257, Dim: 768, Layers: 12, Heads: 12, ContextLength: 1024),
        ["400m"] = new(VocabSize: 50257, Dim: 1024, Layers: 24, Heads: 16, ContextLength: 1024),
        ["1b"] = new(VocabSize: 50257, Dim: 2048, Layers: 16, Heads: 32, ContextLength: 2048),
    };

    public int HeadDim => Dim / Heads;

    public int EffectiveMlpHidden => MlpHidden > 0 ? MlpHidden : (8 * Dim / 3 + 31) / 32 * 32;

    /// <summary>Parameters of the whole model: embedding, per block two norms, four attention and three MLP matrices, final norm, head.</summary>
    public long ParameterCount => 2L * VocabSize * Dim + (long)Layers * 2L * Dim + HiddenMatrixParameterCount + Dim;

    /// <summary>Parameters of the blocks' matrices (four attention, three MLP per block): what Muon steps.</summary>
    public long HiddenMatrixParameterCount => (long)Layers * (4L * Dim * Dim + 3L * Dim * EffectiveMlpHidden);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public ModelConfig Validate()
    {
        Require(VocabSize is >= 2 and <= 1 << 20, nameof(VocabSize), "between 2 and 1048576");
        Require(Dim is >= 8 and <= 1 << 16, nameof(Dim), "between 8 and 65536");
        Require(Layers is >= 1 and <= 1024, nameof(Layers), "between 1 and 1024");
        Require(Heads >= 1 && Dim % Heads == 0, nameof(Heads), "at least 1 and divide Dim");
        Require(HeadDim % 2 == 0, nameof(Heads), "leave an even head width (Dim/Heads) for rotary embeddings");
        Require(MlpHidden >= 0, nameof(MlpHidden), "0 (auto) or positive");
        Require(ContextLength is >= 2 and <= 1 << 17, nameof(ContextLength), "between 2 and 131072");
        Require(RopeTheta > 0 && double.IsFinite(RopeTheta), nameof(RopeTheta), "positive");
        Require(NormEps > 0 && NormEps < 1, nameof(NormEps), "in (0, 1)");
        return this;
    }

    /// <summary>Stable hex digest of the shape, for the peer handshake and checkpoints.</summary>
    public string Hash()
    {
        var text = FormattableString.Invariant(
            $"v1|{VocabSize}|{Dim}|{Layers}|{Heads}|{EffectiveMlpHidden}|{ContextLength}|{RopeTheta:R}|{NormEps:R}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    private static void Require(bool ok, string name, string rule)
    {
        if (!ok) throw new ArgumentException($"model {name} must be {rule}");
    }
}
