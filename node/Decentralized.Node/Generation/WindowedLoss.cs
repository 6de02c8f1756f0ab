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

    /// <summary>Full windows evaluated in one forward (a batch); bounds eval's activation memory.</summary>
    public const int WindowsPerForwardMax = 8;

    /// <summary>Evaluates <paramref name="model"/> (a whole model) over <paramref name="tokens"/>, full windows in batches.</summary>
    public static LossTotal Evaluate(ModelStage model, ReadOnlySpan<int> tokens)
    {
        var device = model.parameters().First().device;
        var batches = Windows(tokens.Length, model.Config.ContextLength).Where(w => w.Length >= 2)
            .GroupBy(w => w.Length).SelectMany(g => g.Chunk(WindowsPerForwardMax));   // equal lengths stack into (B, T)
        double sum = 0;
        long predictions = 0;
        using var noGrad = no_grad();
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            int length = batch[0].Length;
            var ids = new long[batch.Length * length];
            for (int b = 0; b < batch.Length; b++)
                for (int i = 0; i < length; i++) ids[b * length + i] = tokens[batch[b].Start + i];
            var windows = tensor(ids, new long[] { batch.Length, length }).to(device);         // (B, T)
            var logits = model.forward(windows.narrow(1, 0, length - 1));                       // (B, T-1, V)
            var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]).to(float64),
                windows.narrow(1, 1, length - 1).reshape(-1), reduction: nn.Reduction.Sum);
            sum += loss.item<double>();
            predictions += (long)batch.Length * (length - 1);
        }
        return new LossTotal(sum, predictions);
    }
}
