using System.Security.Cryptography;
using Decentralized.Node.Model;
using static TorchSharp.torch;

namespace Decentralized.Node.Export;

/// <summary>
/// Weights to start training from, read from a Hugging Face Llama directory (<c>--init-from</c>). The directory is
/// validated like any file from outside, and its config must equal the run's model field by field (the error names
/// the field and both values). <see cref="Hash"/> identifies the weights, so peers starting elsewhere are refused.
/// </summary>
public sealed class InitialWeights
{
    private readonly Dictionary<string, float[]> _values;

    private InitialWeights(string directory, Dictionary<string, float[]> values, string hash)
    {
        Directory = directory;
        _values = values;
        Hash = hash;
    }

    public string Directory { get; }

    /// <summary>16 hex digits of SHA-256 over the float32 values in HF's tensor order.</summary>
    public string Hash { get; }

    /// <summary>Reads and checks <paramref name="directory"/> against the run's <paramref name="expected"/> model.</summary>
    public static InitialWeights Load(string directory, ModelConfig expected)
    {
        if (!HfLlamaDirectory.IsModelDirectory(directory))
            throw new ArgumentException($"--init-from {directory} is not a Hugging Face Llama directory (config.json + model.safetensors)");
        var (model, _) = HfLlamaDirectory.Read(directory, expected);
        using (model)
        {
            var values = HfLlamaDirectory.Weights(model);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var (_, ours, _) in HfLlamaNames.For(model.Config))
                hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values[ours].AsSpan()));
            return new InitialWeights(directory, values, Convert.ToHexStringLower(hash.GetHashAndReset())[..16]);
        }
    }

    /// <summary>Copies the weights into <paramref name="model"/> (a whole model of the same config).</summary>
    public void ApplyTo(ModelStage model)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            using var scope = NewDisposeScope();
            p.copy_(tensor(_values[name]).view(p.shape).to(p.device));
        }
    }
}
