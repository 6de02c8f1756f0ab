using Decentralized.Node.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Decentralized.Node.Generation;

/// <summary>Summed next-token cross-entropy and the number of predictions it covers.</summary>
public readonly record struct LossTotal(double SumNats, long Predictions)
{
    public double MeanNats => Predictions == 0 ? double.NaN : SumNats / Predictions;
}

/// <summary>
/// The loss <c>decentralized eval</c> reports: the tokens are cut into consecutive, non-overlapping windows of the
/// model's context length (the last may be shorter); inside a window every token but the last predicts its successor.
/// So n tokens give n - ceil(n / T) predictions. <see cref="Reference.ReferenceLlama"/> computes the same in plain C#.
/// </summary>
public static class WindowedLoss
{
    /// <summary>Window boundaries (start, length) for <paramref name="tokens"/> tokens and context <paramref name="context"/>.</summary>
    public static IEnumerable<(int Start, int Length)> Windows(int tokens, int context)
    {
        for (int start = 0; start < tokens; start += context) yield return (start, Math.Min(context, tokens - start));
    }

    /// <summary>Evaluates <paramref name="model"/> (a whole model) over <paramref name="tokens"/>, one window per forward.</summary>
    public static LossTotal Evaluate(ModelStage model, ReadOnlySpan<int> tokens)
    {
        var device = model.parameters().First().device;
        double sum = 0;
        long predictions = 0;
        using var noGrad = no_grad();
        foreach (var (start, length) in Windows(tokens.Length, model.Config.ContextLength))
        {
            if (length < 2) continue;
            using var scope = NewDisposeScope();
            var ids = new long[length];
            for (int i = 0; i < length; i++) ids[i] = tokens[start + i];
            var window = tensor(ids, new long[] { 1, length }).to(device);
            var logits = model.forward(window.narrow(1, 0, length - 1));                          // (1, T-1, V)
            var loss = nn.functional.cross_entropy(logits.reshape(length - 1, -1).to(float64),
                window.narrow(1, 1, length - 1).reshape(length - 1), reduction: nn.Reduction.Sum);
            sum += loss.item<double>();
            predictions += length - 1;
        }
        return new LossTotal(sum, predictions);
    }
}
